"""Shared by the MCP client tests: where the test server is, and running it over HTTP."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVER_SCRIPT = Path(__file__).with_name("fastmcp_server.py")
NODE_DIR = Path(__file__).resolve().parents[3] / ".ci" / "node"


@contextlib.contextmanager
def serve_http(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The FastMCP test server over Streamable HTTP, in its own process: (URL, body log)."""
    log = tmp_path / "http-bodies.log"
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "http", "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()  # "PORT <n>", or "" if it died
        if not line.startswith("PORT "):
            pytest.fail(f"the FastMCP HTTP test server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp", log
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
