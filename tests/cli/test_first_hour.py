"""A new user's first hour: no bubblewrap, misconfigurations, ``--schema``, the fake model.

Real subprocesses of ``ponder`` against a loopback fake model; "no bubblewrap"
is a PATH on which ``bwrap`` is not found.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import httpx
import pytest
from capabilities import missing, path_without

from ponder.testing import FakeModelServer, ToolCallSpec, Turn

NOTE = "so run_python is off"


def ponder(
    *args: str, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ponder", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PONDER_", "DEEPSEEK_", "E2B_", "HF_"))
    }
    clean.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        PONDER_MEMORY_URL=f"sqlite:///{tmp_path / 'memory.db'}",
    )
    return clean


@pytest.fixture
def no_bwrap(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, "PATH": path_without("bwrap", tmp_path / "shims")}


def _model(env: dict[str, str], server: FakeModelServer) -> dict[str, str]:
    return {**env, "PONDER_BASE_URL": server.base_url, "PONDER_MODEL": "r1"}


def _tools(server: FakeModelServer) -> list[str]:
    body = server.requests[0].body or {}
    return [tool["function"]["name"] for tool in body.get("tools", [])]


@pytest.mark.parametrize("agent", ["react", "math-tutor"])
def test_without_bubblewrap_the_quick_start_answers_and_says_so_in_one_line(
    agent: str, no_bwrap: dict[str, str]
) -> None:
    answer = "x = 5" if agent == "react" else '{"answer": "x = 5", "claims": []}'
    with FakeModelServer(lambda _: Turn(reasoning="easy", content=answer), shape="vllm") as server:
        done = ponder("run", "--agent", agent, "Solve x + 1 = 6.", env=_model(no_bwrap, server))
    assert done.returncode == 0, done.stderr
    assert "x = 5" in done.stdout
    lines = [line for line in done.stderr.splitlines() if not line.startswith("thread: ")]
    assert len(lines) == 1 and NOTE in lines[0], done.stderr
    assert "bubblewrap (bwrap) is not installed" in lines[0]
    assert "Traceback" not in done.stderr
    assert "run_python" not in _tools(server)
    assert "check_proof" in _tools(server)


def test_allow_unsandboxed_runs_the_code_in_a_real_process(no_bwrap: dict[str, str]) -> None:
    script = [
        Turn(reasoning="compute", tool_calls=[ToolCallSpec("run_python", {"code": "6 * 7"})]),
        Turn(reasoning="done", content="It is 42."),
    ]
    with FakeModelServer(script, shape="vllm") as server:
        done = ponder("run", "--allow-unsandboxed", "What is 6*7?", env=_model(no_bwrap, server))
    assert done.returncode == 0, done.stderr
    assert "WITHOUT isolation" in done.stderr
    assert "run_python" in _tools(server)
    tool_messages = [
        m for m in (server.requests[1].body or {})["messages"] if m.get("role") == "tool"
    ]
    assert "42" in tool_messages[0]["content"]


def test_the_debugger_without_a_sandbox_is_one_line_not_a_traceback(
    no_bwrap: dict[str, str], tmp_path: Path
) -> None:
    with FakeModelServer([], shape="vllm") as server:
        done = ponder(
            "run",
            "--agent",
            "debugger",
            "--project",
            str(tmp_path),
            "--command",
            "python -c 1",
            "fix it",
            env=_model(no_bwrap, server),
        )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "bubblewrap sandbox" in done.stderr and "not installed" in done.stderr


@pytest.mark.slow
def test_ponder_serve_without_bubblewrap_answers_in_json(no_bwrap: dict[str, str]) -> None:
    port = _free_port()
    with FakeModelServer([Turn(reasoning="r", content="Four.")], shape="vllm") as model:
        server = subprocess.Popen(
            [sys.executable, "-m", "ponder", "serve", "--port", str(port), "--agent", "react"],
            env=_model(no_bwrap, model),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            reply = _post_when_up(server, f"http://127.0.0.1:{port}/agents/react/runs")
        finally:
            server.send_signal(signal.SIGINT)
            log, _ = server.communicate(timeout=30)
    assert reply.status_code == 200, log
    assert reply.json()["answer"] == "Four."
    assert NOTE in log and "Traceback" not in log


@pytest.mark.parametrize("command", ["run", "chat", "doctor"])
def test_a_local_model_path_that_is_not_a_file_is_named(
    command: str, env: dict[str, str], tmp_path: Path
) -> None:
    if find_spec("llama_cpp") is None:
        missing("llama-cpp-python", "pip install -e '.[local]'")
    wrong = str(tmp_path / "nowhere.gguf")
    args = ["run", "hello"] if command == "run" else [command]
    done = ponder(*args, env={**env, "PONDER_LOCAL_MODEL": wrong})
    assert done.returncode == 2
    said = done.stdout + done.stderr
    assert f"PONDER_LOCAL_MODEL={wrong!r} is not a file" in said
    assert "no model backend configured" not in said and "Traceback" not in said


def test_the_local_extra_without_network_gives_the_advice_first(
    no_bwrap: dict[str, str],
) -> None:
    if find_spec("llama_cpp") is None:
        missing("llama-cpp-python", "pip install -e '.[local]'")
    closed = f"http://127.0.0.1:{_free_port()}"
    # no bubblewrap either: the run_python note waits for an answer, the failure stays one line
    done = ponder("run", "hello", env={**no_bwrap, "HF_ENDPOINT": closed})
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith("ponder: cannot download the local model"), line
    assert line.index("PONDER_LOCAL_MODEL=") < 200 and len(line) < 450, line


def test_a_schema_run_that_fails_prints_nothing_on_stdout(
    env: dict[str, str], tmp_path: Path
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "required": ["n"]}))
    with FakeModelServer([Turn(reasoning="hm", content="not json")] * 6, shape="vllm") as server:
        done = ponder("run", "--schema", str(schema), "Give n.", env=_model(env, server))
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert "did not match the schema" in done.stderr


@pytest.mark.slow
def test_fake_model_launcher_prints_settings_that_work(env: dict[str, str]) -> None:
    launcher = subprocess.Popen(
        [sys.executable, "-m", "ponder.testing", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert launcher.stdout is not None
        launcher.stdout.readline()
        exports = launcher.stdout.readline().split()
        assert exports[0] == "export"
        settings = dict(item.split("=", 1) for item in exports[1:])
        assert set(settings) == {
            "PONDER_BASE_URL",
            "PONDER_MODEL",
            "PONDER_PROVIDER",
            "PONDER_API_KEY",
        }
        plain = ponder("run", "What is 2+3?", env={**env, **settings})
        schema = Path(env["HOME"]).parent / "s.json"
        schema.write_text(
            json.dumps(
                {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}, "why": {"type": "string"}},
                    "required": ["n", "why"],
                }
            )
        )
        structured = ponder("run", "--schema", str(schema), "n?", env={**env, **settings})
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.communicate(timeout=30)
    assert plain.returncode == 0, plain.stderr
    assert "You asked: What is 2+3?" in plain.stdout
    assert structured.returncode == 0, structured.stderr
    assert json.loads(structured.stdout) == {"n": 0, "why": "fake"}
    assert launcher.returncode == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _post_when_up(server: subprocess.Popen[str], url: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"ponder serve exited with {server.returncode}")
        try:
            return httpx.post(url, json={"question": "2+2?"}, timeout=60)
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail("ponder serve did not answer within 60 s")


@pytest.mark.slow
def test_ponder_index_without_a_folder_builds_the_default_index_ahead(
    env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "index.sqlite3"
    done = ponder("index", "--db", str(db), env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "building the default search index" in done.stdout
    assert "chunks in" in done.stdout and db.stat().st_size > 1_000_000
