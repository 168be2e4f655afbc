"""E2BRunner over the real SDK against a loopback fake of /execute; plus a live check."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from tests_e2b_fake import FakeE2B, serve

from ponder.tools.code import E2BRunner, SandboxUnavailableError

_ANSI_TB = "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"


def _script(code: str) -> list[dict[str, Any]]:
    if code == "boom":
        return [
            {"type": "error", "name": "ZeroDivisionError", "value": "division by zero",
             "traceback": _ANSI_TB},
            {"type": "number_of_executions", "execution_count": 2},
        ]  # fmt: skip
    if code == "restart":
        return [{"type": "number_of_executions", "execution_count": 1}]
    return [
        {"type": "stdout", "text": "hello\n", "timestamp": 1},
        {"type": "stdout", "text": "x" * 50, "timestamp": 2},
        {"type": "stderr", "text": "warn\n", "timestamp": 3},
        {"type": "result", "text": "42", "is_main_result": True},
        {"type": "number_of_executions", "execution_count": 1},
    ]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeE2B]:
    monkeypatch.setenv("E2B_DEBUG", "true")
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    with serve(_script) as server:
        yield server


async def test_run_maps_the_sdk_execution(fake: FakeE2B) -> None:
    runner = E2BRunner(max_output_chars=100)
    try:
        result = await runner.run("print('hello')")
        assert result.stdout.startswith("hello\n") and result.stderr == "warn\n"
        assert result.value == "42" and result.error is None and not result.state_lost
        assert fake.requests == [
            {"code": "print('hello')", "context_id": None, "language": None, "env_vars": None}
        ]
        error = (await runner.run("boom")).error
        assert error is not None and error.name == "ZeroDivisionError"
        assert error.traceback == "ZeroDivisionError: division by zero"  # ANSI stripped
    finally:
        await runner.aclose()


async def test_output_is_capped(fake: FakeE2B) -> None:
    runner = E2BRunner(max_output_chars=20)
    try:
        result = await runner.run("print")
        assert result.truncated_chars == 56 - 20
        assert "[36 characters cut]" in result.stdout
    finally:
        await runner.aclose()


async def test_kernel_restart_is_reported_as_state_lost(fake: FakeE2B) -> None:
    runner = E2BRunner()
    try:
        await runner.run("boom")  # execution_count 2
        assert (await runner.run("restart")).state_lost  # count went back to 1
    finally:
        await runner.aclose()


async def test_timeout_is_reported(fake: FakeE2B) -> None:
    fake.delay_s = 1
    runner = E2BRunner(timeout_s=0.3)
    try:
        result = await runner.run("slow")
        assert result.timed_out and result.error is not None
        assert "Timed out" in result.to_text()
    finally:
        await runner.aclose()


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    monkeypatch.delenv("E2B_DEBUG", raising=False)
    with pytest.raises(SandboxUnavailableError, match="E2B_API_KEY"):
        E2BRunner()


def test_key_never_appears_in_repr() -> None:
    runner = E2BRunner(api_key="e2b_secret_canary")
    assert "e2b_secret_canary" not in repr(runner)


@pytest.mark.e2b_live
@pytest.mark.skipif(not os.environ.get("E2B_API_KEY"), reason="needs E2B_API_KEY (real E2B)")
async def test_live_session_keeps_state() -> None:
    runner = E2BRunner(timeout_s=60)
    try:
        await runner.run("x = 20")
        result = await runner.run("print('hi')\nx + 22")
        assert result.stdout == "hi\n" and result.value == "42"
    finally:
        await runner.aclose()
