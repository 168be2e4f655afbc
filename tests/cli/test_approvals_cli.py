"""Approvals on the command line: y/n/edit on a terminal (pexpect), exit 7 off one, runs."""

from __future__ import annotations

import re
import subprocess
import sys

import pexpect
import pytest

from ponder.testing import FakeModelServer, ToolCallSpec, Turn

pytestmark = pytest.mark.slow

CLAIM = {"claim": {"kind": "identity", "lhs": "(a+b)**2", "rhs": "a**2 + 2*a*b + b**2"}}


def script() -> list[Turn]:
    return [
        Turn(content="Let me check it.", tool_calls=[ToolCallSpec("check_proof", CLAIM)]),
        Turn(content="Yes, the identity holds."),
    ]


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return env | {"PONDER_MODEL": "r1", "NO_COLOR": "1"}


def test_the_terminal_asks_and_an_edit_is_validated(env: dict[str, str]) -> None:
    with FakeModelServer(script(), shape="vllm") as server:
        env["PONDER_BASE_URL"] = server.base_url
        child = pexpect.spawn(
            sys.executable,
            ["-m", "ponder", "run", "--approve", "check_proof", "Is (a+b)^2 = a^2+2ab+b^2?"],
            env=env,
            encoding="utf-8",
            timeout=60,
        )
        child.expect("The model says: Let me check it.")
        child.expect(r"Run it\? \[y\]es / \[n\]o / \[e\]dit: ")
        child.sendline("e")
        child.expect("New arguments")
        child.sendline('{"claim": 1}')
        child.expect("invalid")
        child.expect(r"Run it\?")
        child.sendline("y")
        child.expect("Yes, the identity holds.")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
    tool_message = [m for m in server.requests[-1].body["messages"] if m["role"] == "user"]
    assert "PROVED" in str(tool_message) or "PROVED" in str(server.requests[-1].body)


def ponder(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ponder", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_off_a_terminal_the_run_pauses_and_runs_resume_finishes_it(env: dict[str, str]) -> None:
    with FakeModelServer(script(), shape="vllm") as server:
        env["PONDER_BASE_URL"] = server.base_url
        paused = ponder("run", "--approve", "check_proof", "Is it an identity?", env=env)
        assert paused.returncode == 7, paused.stderr
        match = re.search(r"run: ([0-9a-f]{32})", paused.stderr)
        assert match, paused.stderr
        run_id = match.group(1)
        listed = ponder("runs", "list", env=env)
        assert listed.returncode == 0 and run_id in listed.stdout
        assert "awaiting_approval" in listed.stdout
        waiting = ponder("runs", "resume", run_id, env=env)
        assert waiting.returncode == 7 and "--approve-all" in waiting.stderr
        done = ponder("runs", "resume", run_id, "--reject", "no tools today", env=env)
        assert done.returncode == 0, done.stderr
        assert "Yes, the identity holds." in done.stdout
        gone = ponder("runs", "resume", run_id, "--approve-all", env=env)
        assert gone.returncode == 2 and gone.stderr.count("\n") == 1  # one clear line
    assert "no tools today" in str(server.requests[-1].body)


def test_chat_asks_on_the_terminal_and_a_rejection_reaches_the_model(env: dict[str, str]) -> None:
    turns = [*script()[:1], Turn(content="Understood, I will not check it.")]
    with FakeModelServer(turns, shape="vllm") as server:
        env["PONDER_BASE_URL"] = server.base_url
        child = pexpect.spawn(
            sys.executable,
            ["-m", "ponder", "chat", "--approve", "check_proof"],
            env=env,
            encoding="utf-8",
            timeout=60,
        )
        child.expect("› ")
        child.sendline("Is (a+b)^2 = a^2+2ab+b^2?")
        child.expect(r"Run it\? \[y\]es / \[n\]o / \[e\]dit: ")
        child.sendline("n")
        child.expect("Message for the model")
        child.sendline("not this time")
        child.expect("Understood, I will not check it.")
        child.expect("› ")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
    assert "not this time" in str(server.requests[-1].body)
