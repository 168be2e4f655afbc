"""Every script in examples/ runs against a loopback fake model and prints what it promises.

Scripts are found by glob (files starting with ``_`` are helpers), so a new
example is covered at once: without an entry in ``EXPECTED`` its test fails.
Scripted examples run with ``--fake`` (``examples/_fake.py``); an example that
serves HTTP is started against a :class:`FakeModelServer` through the PONDER_*
environment, asked one question over HTTP, then stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import capabilities
import httpx
import pytest

from ponder.testing import FakeModelServer, Turn

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
RUN_TIMEOUT_S = 180
_MCP_SERVERS = EXAMPLES.parent / ".ci/node/node_modules/.bin/mcp-server-filesystem"


@dataclass(frozen=True)
class Prints:
    """A script run with ``args``: exit status 0 and every substring on stdout."""

    contains: tuple[str, ...]
    args: tuple[str, ...] = ("--fake",)
    needs_bwrap: bool = False
    needs_node: bool = False
    """The MCP reference servers from npm (``npm ci --prefix .ci/node``, or npx)."""


@dataclass(frozen=True)
class Serves:
    """A script that serves HTTP on env ``PORT`` until SIGINT; ``post`` must answer ``contains``."""

    ready_path: str
    post_path: str
    question: str
    answer: str
    contains: tuple[str, ...]


SERVED_ANSWER = "Yes: 2**61 - 1 is a Mersenne prime."

EXPECTED: dict[str, Prints | Serves] = {
    "check_my_work.py": Prints(
        (
            "step 2 (2*x = 10): refuted",
            "step 3 (x = 5): proved",
            "First wrong step: 2",
            "Explanation: In step 2",
        )
    ),
    "custom_graph.py": Prints(
        (
            "[planner]\n1. Expand (a+b)**2.",
            "[tool call] check_proof",
            "[tool result] REFUTED (identity)",
            "[critic] rejected: The checker refuted the identity.",
            "[critic] approved:",
            "Outcome: answered, reviews: 2",
            "Final answer: No. (a+b)**2 = a**2 + 2*a*b + b**2",
        )
    ),
    "debug_failing_test.py": Prints(
        (
            "[tool call] run_python",
            "Before (failed, exit status 1)",
            "-    for start in range(len(values) - window):",
            "After (passed)",
            "Status: fixed (1 attempt(s))",
        ),
        needs_bwrap=True,
    ),
    "math_tutor.py": Prints(
        (
            "solution set: REFUTED. x = 4 is not a solution",
            "Revisions: 1",
            "Verified: True",
            "Final answer: x = 2 or x = 3.",
        )
    ),
    "mcp_tools.py": Prints(
        (
            "[tool call] fs__list_directory",
            "[tool result] ok: [FILE] notes.txt",
            "[tool result] error: Error: tool 'fs__read_text_file' failed with McpToolError: "
            "Access denied - path outside allowed directories",
            "[tool result] ok: Release: Friday 10:00. Owner: Ada.",
            "Outcome: answered",
            "Final answer: The release is on Friday at 10:00",
        ),
        needs_node=True,
    ),
    "structured_output.py": Prints(
        (
            "Outcome: answered after 2 model call(s)",
            "Validated BugTriage:",
            "  severity:  1",
            '"platforms":["windows"]',
        )
    ),
    "web_backend.py": Serves(
        ready_path="/",
        post_path="/ponder/agents/math/runs",
        question="Is 2^61-1 prime?",
        answer=SERVED_ANSWER,
        contains=(SERVED_ANSWER, '"thread_id"'),
    ),
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PONDER_", "DEEPSEEK_"))}
    clean.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PONDER_MEMORY_URL=f"sqlite:///{tmp_path / 'memory.db'}",
        PYTHONUNBUFFERED="1",
    )
    return clean


def test_every_example_has_expectations_and_no_expectation_is_stale() -> None:
    assert SCRIPTS, f"no examples found in {EXAMPLES}"
    assert sorted(EXPECTED) == SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_against_the_fake_model(script: str, env: dict[str, str]) -> None:
    expected = EXPECTED.get(script)
    if expected is None:
        pytest.fail(f"examples/{script} has no entry in EXPECTED ({__file__})")
    if isinstance(expected, Serves):
        _check_served(script, expected, env)
        return
    if expected.needs_bwrap and shutil.which("bwrap") is None:
        pytest.skip(reason=f"examples/{script} needs bubblewrap (bwrap), which is not installed")
    if expected.needs_node and not (_MCP_SERVERS.exists() or shutil.which("npx")):
        capabilities.missing("the npm MCP reference servers", "npm ci --prefix .ci/node")
    done = subprocess.run(
        [sys.executable, script, *expected.args],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    missing = [s for s in expected.contains if s not in done.stdout]
    assert not missing, f"examples/{script} no longer prints {missing}:\n{done.stdout}"


def _check_served(script: str, expected: Serves, env: dict[str, str]) -> None:
    port = _free_port()
    token = "example-test-token"
    with FakeModelServer([Turn(reasoning="Lucas–Lehmer.", content=expected.answer)]) as model:
        env = {
            **env,
            "PONDER_BASE_URL": model.base_url,
            "PONDER_MODEL": "fake-r1",
            "PONDER_API_KEY": "sk-fake",
            "PONDER_SERVER_KEY": token,
            "PORT": str(port),
        }
        server = subprocess.Popen(
            [sys.executable, script],
            cwd=EXAMPLES,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_serving(server, base + expected.ready_path)
            reply = httpx.post(
                base + expected.post_path,
                json={"question": expected.question},
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
        finally:
            server.send_signal(signal.SIGINT)
            try:
                log, _ = server.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                log, _ = server.communicate()
    assert reply.status_code == 200, f"{reply.status_code} {reply.text}\n{log}"
    text = json.dumps(reply.json())
    missing = [s for s in expected.contains if s not in text]
    assert not missing, f"examples/{script} no longer answers {missing}: {text}"
    assert server.returncode == 0, log


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(server: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log = server.stdout.read() if server.stdout else ""
            pytest.fail(f"the example exited with {server.returncode} before serving:\n{log}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"nothing answered at {url} within 60 s")
