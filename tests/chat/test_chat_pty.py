"""``ponder chat`` driven in a pseudo-terminal against a loopback fake model."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pexpect
import pytest

from ponder.testing import FakeModelServer, ToolCallSpec, Turn

CANARY = "REASONING-CANARY-7c1e"
QUESTION = "Please expand (a+b)**2"
ANSWER = "Yes: (a+b)**2 = a**2 + 2*a*b + b**2, and the checker proved it."
STORY = "Tell me a long story"
IDENTITY = {"claim": {"kind": "identity", "lhs": "(a+b)**2", "rhs": "a**2 + 2*a*b + b**2"}}


def fake_model(body: dict[str, Any]) -> Turn:
    last = body["messages"][-1]
    if last["role"] == "tool":
        return Turn(reasoning="The checker says proved.", content=ANSWER)
    question = last["content"]
    if question == QUESTION:
        return Turn(
            reasoning=f"{CANARY} expand it, then let the checker confirm.",
            tool_calls=[ToolCallSpec("check_proof", IDENTITY)],
        )
    if question == STORY:
        return Turn(reasoning="A long one.", content="Once upon a time " * 300, delay_s=0.05)
    return Turn(reasoning="Look at the history.", content="Earlier you asked me to expand it.")


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer(fake_model, shape="deepseek") as srv:
        yield srv


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PONDER_", "DEEPSEEK_"))}
    clean.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "data"), TERM="xterm")
    return clean


def chat(server: FakeModelServer, env: dict[str, str], tmp_path: Path, *extra: str) -> Any:
    args = ["-m", "ponder", "chat", "--base-url", server.base_url, "--model", "fake-r1"]
    args += ["--provider", "deepseek", "--api-key", "sk-fake"]
    args += ["--memory", f"sqlite:///{tmp_path / 'memory.db'}", *extra]
    return pexpect.spawn(
        sys.executable, args, env=env, encoding="utf-8", dimensions=(40, 120), timeout=60
    )


def prompt(child: Any) -> None:
    child.expect_exact("› ")


def test_streams_cancels_and_resumes_the_thread(
    server: FakeModelServer, env: dict[str, str], tmp_path: Path
) -> None:
    child = chat(server, env, tmp_path)
    child.expect(r"thread: ([0-9a-f]{32})")
    thread = child.match.group(1)
    prompt(child)

    # a question: reasoning collapses, the tool call and its result show, the answer streams
    child.sendline(QUESTION)
    child.expect_exact("thought for")
    child.expect_exact("check_proof")
    child.expect_exact("✓")
    child.expect_exact("PROVED (identity)")
    child.expect_exact(ANSWER)
    child.expect_exact("answered")
    prompt(child)
    child.sendline("/reasoning")
    child.expect_exact(CANARY)
    prompt(child)

    # Ctrl-C during a slow answer cancels it, and the session goes on
    child.sendline(STORY)
    child.expect_exact("Once upon a time Once upon")
    child.sendintr()
    child.expect_exact("cancelled")
    prompt(child)
    child.sendline("/thread")
    child.expect_exact(f"thread: {thread}")
    prompt(child)
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    # a restart on the same thread sends the history: the answered turn, not the cancelled one
    child = chat(server, env, tmp_path, "--thread", thread)
    child.expect_exact(f"thread: {thread}")
    child.expect_exact("resumed: 1 earlier turn")
    prompt(child)
    child.sendline("What did I ask earlier?")
    child.expect_exact("Earlier you asked me to expand it.")
    prompt(child)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    body = server.requests[-1].body
    assert body is not None
    sent = body["messages"]
    contents = [(m["role"], m.get("content")) for m in sent]
    assert ("user", QUESTION) in contents and ("assistant", ANSWER) in contents
    assert contents[-1] == ("user", "What did I ask earlier?")
    assert all(STORY not in str(content) for _, content in contents)
    assert CANARY not in str(sent)
    for path in tmp_path.glob("memory.db*"):
        assert CANARY.encode() not in path.read_bytes()


def test_ctrl_c_at_the_prompt_leaves(
    server: FakeModelServer, env: dict[str, str], tmp_path: Path
) -> None:
    child = chat(server, env, tmp_path)
    prompt(child)
    child.sendline("/help")
    child.expect_exact("/reasoning")
    prompt(child)
    child.sendintr()
    child.expect_exact("resume with --thread")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert server.requests == []


def test_no_backend_configured_is_one_clear_line_or_the_local_model(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ponder", "chat"],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if find_spec("llama_cpp") is not None:  # like ponder run: the in-process model
        assert done.returncode == 0, done.stderr
        assert "DeepSeek-R1-Distill-Qwen-1.5B" in done.stdout.splitlines()[0]
        assert "Traceback" not in done.stderr
        return
    assert done.returncode == 2
    assert done.stderr.strip().startswith("ponder: no model backend configured")
    assert len(done.stderr.strip().splitlines()) == 1
