"""``ponder run --agent …`` for the tutor and debugger, and ``ponder serve``."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from ponder.testing import FakeModelServer, Turn


def ponder(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ponder", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_math_tutor_check_mode_flags_the_first_wrong_step(env: dict[str, str]) -> None:
    explanation = "In step 2 you added 3 to the right side instead of subtracting it."
    with FakeModelServer(
        [Turn(reasoning="look at step 2", content=explanation)], shape="vllm"
    ) as srv:
        env.update(PONDER_BASE_URL=srv.base_url, PONDER_MODEL="r1")
        done = ponder(
            "run",
            "--agent",
            "math-tutor",
            "--mode",
            "check",
            "--json",
            "2*x + 3 = 7\n2*x = 10\nx = 5",
            env=env,
        )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)["answer"]
    assert answer["first_wrong_step"] == 2
    assert "subtracting" in answer["explanation"]


def test_debugger_explain_mode_returns_a_structured_explanation(env: dict[str, str]) -> None:
    report = {
        "root_cause": "The list is empty, so max() has nothing to compare.",
        "location": "stats.py, line 3, in peak",
        "explanation": "peak([]) calls max([]) which raises ValueError.",
        "suggested_fix": "return None when values is empty",
    }
    with FakeModelServer(
        [Turn(reasoning="empty list", content=json.dumps(report))], shape="vllm"
    ) as srv:
        env.update(PONDER_BASE_URL=srv.base_url, PONDER_MODEL="r1")
        traceback = 'File "stats.py", line 3, in peak\nValueError: max() arg is an empty sequence'
        done = ponder(
            "run", "--agent", "debugger", "--mode", "explain", "--json", traceback, env=env
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == report


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--agent", "react", "--mode", "hints"], "no modes"),
        (["--agent", "math-tutor", "--mode", "fix"], "no mode 'fix'"),
        (["--project", "."], "--agent debugger"),
        (["--agent", "debugger", "--mode", "fix"], "project"),
    ],
)
def test_agent_option_mistakes_are_one_line(
    env: dict[str, str], args: list[str], expected: str
) -> None:
    env.update(PONDER_BASE_URL="http://127.0.0.1:9/v1", PONDER_MODEL="r1")
    done = ponder("run", *args, "q", env=env)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_openai_clients_and_stops_on_sigint(env: dict[str, str]) -> None:
    port = _free_port()
    with FakeModelServer([Turn(reasoning="hidden", content="Served answer.")], shape="vllm") as srv:
        env.update(PONDER_BASE_URL=srv.base_url, PONDER_MODEL="r1", PONDER_SERVER_TOKENS="tok-1")
        proc = subprocess.Popen(
            [sys.executable, "-m", "ponder", "serve", "--port", str(port), "--agent", "react"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "ponder serve did not come up"
                time.sleep(0.2)
            assert httpx.get(f"{base}/v1/models", timeout=5).status_code == 401
            reply = httpx.post(
                f"{base}/v1/chat/completions",
                headers={"Authorization": "Bearer tok-1"},
                json={"model": "react", "messages": [{"role": "user", "content": "hi"}]},
                timeout=60,
            )
            assert reply.status_code == 200, reply.text
            message = reply.json()["choices"][0]["message"]
            assert message["content"] == "Served answer."
            assert "hidden" not in reply.text
        finally:
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "tok-1" not in stderr and "hidden" not in stderr


@pytest.mark.parametrize("command", ["run", "chat", "serve", "doctor", "index", "mcp"])
def test_every_subcommand_has_help(env: dict[str, str], command: str) -> None:
    done = ponder(command, "--help", env=env)
    assert done.returncode == 0, done.stderr
    assert f"usage: ponder {command}" in done.stdout


def test_doctor_prints_the_capability_table(env: dict[str, str]) -> None:
    script = [Turn(reasoning="probe", content='{"ok": true}')] * 12
    with FakeModelServer(script, shape="vllm") as srv:
        done = ponder("doctor", "--base-url", srv.base_url, "--model", "r1", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reasoning" in done.stdout.lower() and "openai-compatible" in done.stdout
    assert "usable" in done.stdout


def test_doctor_reports_an_unreachable_backend(env: dict[str, str]) -> None:
    done = ponder(
        "doctor", "--base-url", f"http://127.0.0.1:{_free_port()}/v1", "--model", "r1", env=env
    )
    assert done.returncode == 3
