"""Every exit code the README documents, produced by ``ponder run``.

In process through ``ponder.cli.main`` (fast), except the interrupt, which a
real subprocess gets as a real SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ponder.cli import main
from ponder.memory import MemoryStore
from ponder.memory.runs import RunLedger
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

README = Path(__file__).resolve().parents[2] / "README.md"
PROOF = {"claim": {"kind": "identity", "lhs": "(a+b)**2", "rhs": "a**2 + 2*a*b + b**2"}}


def _documented_codes() -> set[int]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("Exit codes:") :]
    section = section[: section.index("Failures print")]
    return {int(code) for code in re.findall(r"(?:^|[;:]\s*)(\d+) ", section)}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PONDER_", "DEEPSEEK_"))}
    clean.update(
        HOME=str(tmp_path / "home"),
        PONDER_MEMORY_URL=f"sqlite:///{tmp_path / 'memory.db'}",
        PONDER_MODEL="fake-r1",
        PONDER_API_KEY="sk-test",
        **extra,
    )
    return clean


def _ponder(env: dict[str, str], *args: str) -> int:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with pytest.raises(SystemExit) as done:
            main(["run", *args])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return int(done.value.code or 0)


def _served(turns: list[Turn], *args: str, shape: str = "vllm", **kw: str) -> Callable[[Path], int]:
    def run(tmp_path: Path) -> int:
        with FakeModelServer(turns, shape=shape, **kw) as srv:  # type: ignore[arg-type]
            return _ponder(_env(tmp_path, PONDER_BASE_URL=srv.base_url), *args, "q")

    return run


def _unreachable(tmp_path: Path) -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return _ponder(_env(tmp_path, PONDER_BASE_URL=f"http://127.0.0.1:{port}/v1"), "q")


def _usage(tmp_path: Path) -> int:
    return _ponder(_env(tmp_path), "q")  # no backend configured


@contextmanager
def _ctrl_c_reaches_children() -> Iterator[None]:
    """Children started here get SIGINT's default action, as a foreground command has.

    A suite started in the background by a non-interactive shell (``pytest &``,
    some CI runners) ignores SIGINT, and an ignored signal stays ignored in
    every child: ``ponder run`` would never see the Ctrl-C this test sends, and
    the test timed out (only for such a suite, so it looked flaky). A handled
    signal is reset to its default in the child at exec.
    """
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ponder_run(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    with _ctrl_c_reaches_children():
        return subprocess.Popen(
            [sys.executable, "-m", "ponder", "run", *args, "q"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _interrupted(tmp_path: Path) -> int:
    slow = Turn(reasoning="thinking " * 400, content="late", chunk_chars=4, delay_s=0.05)
    with FakeModelServer([slow], shape="vllm") as srv:
        proc = _ponder_run(_env(tmp_path, PONDER_BASE_URL=srv.base_url))
        deadline = time.monotonic() + 60
        while not srv.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert "Traceback" not in stderr
    return proc.returncode


_LOOP = Turn(reasoning="again", tool_calls=[ToolCallSpec("check_proof", PROOF)])
CASES: dict[int, Callable[[Path], int]] = {
    0: _served([Turn(reasoning="easy", content="4")]),
    1: _served([Turn(reasoning="long thought", finish_reason="length")]),
    2: _usage,
    3: _unreachable,
    4: _served([Turn(content="never")], "--api-key", "sk-wrong", api_key="sk-right"),
    5: _served([Turn(status=400, error_message="bad request")] * 3),
    6: _served([Turn(content="1. The Earth's", finish_reason="length")]),
    7: _served([_LOOP], "--approve", "check_proof"),  # off a terminal: paused, run id printed
    130: _interrupted,
}


def test_every_documented_exit_code_has_a_case() -> None:
    assert set(CASES) == _documented_codes()


@pytest.mark.parametrize("code", sorted(CASES))
def test_exit_code(code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 12.5: the reasoning budget running out exited 5 while the README says 1;
    # 12.4: a reply cut off by the token limit exited 0 as if answered.
    assert CASES[code](tmp_path) == code
    assert "Traceback" not in capsys.readouterr().err


def test_the_step_budget_is_a_budget_too(tmp_path: Path) -> None:
    assert _served([_LOOP, Turn(content="best effort")], "--max-steps", "1")(tmp_path) == 1


@pytest.mark.slow
def test_ctrl_c_while_the_first_model_call_streams_cancels_the_run(tmp_path: Path) -> None:
    """Ctrl-C once the agent streams its first model call (not only during start-up).

    The stream would last 120 s; the command must exit 130 well before, leave
    the run cancelled in the ledger and store no turn.
    """
    slow = Turn(reasoning="thinking " * 2400, content="late", chunk_chars=9, delay_s=0.05)
    with FakeModelServer([slow], shape="vllm") as srv:
        proc = _ponder_run(_env(tmp_path, PONDER_BASE_URL=srv.base_url), "--show-reasoning")
        assert proc.stderr is not None
        proc.stderr.read(1)  # the reasoning streams: the agent runs the model call
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        waited = time.monotonic() - sent
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert waited < 20, f"exited {waited:.1f} s after Ctrl-C"
    assert asyncio.run(_runs_and_turns(f"sqlite:///{tmp_path / 'memory.db'}")) == (["cancelled"], 0)


async def _runs_and_turns(url: str) -> tuple[list[str], int]:
    store = MemoryStore.from_url(url)
    try:
        runs = await RunLedger.for_store(store).list()
        turns = [t for run in runs for t in await store.turns(run.thread_id)]
        return [run.status for run in runs], len(turns)
    finally:
        await store.aclose()
