"""The same session interface on E2B's cloud code interpreter (needs ``E2B_API_KEY``)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from typing import Any

from ponder.tools.code.result import (
    ExecutionError,
    ExecutionResult,
    SandboxUnavailableError,
    cap_text,
)

__all__ = ["E2BRunner"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class E2BRunner:
    """A notebook-like Python session in an E2B sandbox, created on the first call.

    ``api_key`` defaults to ``E2B_API_KEY``; with ``E2B_DEBUG=true`` the SDK
    talks to a local server on port 49999 and no key is needed.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        sandbox_lifetime_s: int = 600,
        max_output_chars: int = 20_000,
    ) -> None:
        try:
            from e2b_code_interpreter import AsyncSandbox
        except ImportError as exc:
            raise SandboxUnavailableError(
                "E2B needs the `e2b-code-interpreter` package: pip install 'ponder[e2b]'"
            ) from exc
        key = api_key or os.environ.get("E2B_API_KEY")
        if not key and os.environ.get("E2B_DEBUG", "").lower() != "true":
            raise SandboxUnavailableError(
                "E2B needs an API key: set E2B_API_KEY or pass api_key=... "
                "(get one at https://e2b.dev/dashboard)"
            )
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._sandbox_cls: Any = AsyncSandbox
        self._api_key = key
        self.timeout_s = timeout_s
        self._lifetime_s = sandbox_lifetime_s
        self._max_output_chars = max_output_chars
        self._sandbox: Any = None
        self._sessions = 0
        self._last_count: int | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"E2BRunner(timeout_s={self.timeout_s}, started={self._sandbox is not None})"

    async def run(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        """Run ``code`` in the sandbox's Jupyter kernel."""
        from e2b import TimeoutException

        if not isinstance(code, str):
            raise TypeError("code must be a string")
        timeout = self.timeout_s if timeout_s is None else timeout_s
        async with self._lock:
            state_lost = False
            if self._sandbox is None:
                state_lost = self._sessions > 0
                self._sessions += 1
                self._last_count = None
                self._sandbox = await self._sandbox_cls.create(
                    api_key=self._api_key, timeout=self._lifetime_s
                )
            started = time.perf_counter()
            try:
                execution = await self._sandbox.run_code(code, timeout=timeout)
            except TimeoutException as exc:
                if "killed" in str(exc):
                    self._sandbox = None  # gone: the next call creates a new one
                return ExecutionResult(
                    error=ExecutionError("TimeoutError", str(exc), ""),
                    timed_out=True,
                    state_lost=state_lost,
                    duration_s=time.perf_counter() - started,
                )
            count = execution.execution_count
            if self._last_count is not None and count is not None and count <= self._last_count:
                state_lost = True  # the kernel restarted under us
            self._last_count = count
            return self._to_result(execution, state_lost, time.perf_counter() - started)

    async def aclose(self) -> None:
        """Kill the sandbox (if one was created)."""
        async with self._lock:
            sandbox, self._sandbox = self._sandbox, None
            if sandbox is not None:
                await sandbox.kill()

    def _to_result(self, execution: Any, state_lost: bool, duration: float) -> ExecutionResult:
        limit = self._max_output_chars
        stdout, out_cut = cap_text("".join(execution.logs.stdout), limit)
        stderr, err_cut = cap_text("".join(execution.logs.stderr), limit)
        main = [r.text for r in execution.results if r.is_main_result and r.text is not None]
        value, value_cut = cap_text(main[-1], limit) if main else (None, 0)
        error = None
        if execution.error is not None:
            tb, tb_cut = cap_text(_ANSI.sub("", execution.error.traceback), limit)
            error = ExecutionError(execution.error.name, execution.error.value, tb)
            err_cut += tb_cut
        return ExecutionResult(
            stdout=stdout,
            stderr=stderr,
            value=value,
            error=error,
            state_lost=state_lost,
            truncated_chars=out_cut + err_cut + value_cut,
            duration_s=duration,
        )
