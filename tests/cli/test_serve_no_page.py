"""``ponder serve --no-page``: the APIs without the chat page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ponder.testing import FakeModelServer, Turn


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_no_page_serves_the_apis_but_not_the_page(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PONDER_", "DEEPSEEK_"))}
    port = _free_port()
    with FakeModelServer([Turn(content="unused")], shape="vllm") as model:
        env.update(
            HOME=str(tmp_path / "home"),
            XDG_DATA_HOME=str(tmp_path / "data"),
            PONDER_MEMORY_URL=f"sqlite:///{tmp_path / 'memory.db'}",
            PONDER_BASE_URL=model.base_url,
            PONDER_MODEL="r1",
        )
        command = [sys.executable, "-m", "ponder", "serve", "--port", str(port), "--no-page"]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            while True:
                assert proc.poll() is None, proc.communicate()[1]
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            assert httpx.get(f"{base}/").status_code == 404
            assert httpx.get(f"{base}/ui/app.js").status_code == 404
            agents = httpx.get(f"{base}/agents").json()
            assert agents == {
                "agents": [{"name": "react"}, {"name": "math-tutor"}],
                "allow_reasoning": False,
            }
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
