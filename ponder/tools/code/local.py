"""A local, stateful Python session inside a bubblewrap box.

One worker process per :class:`LocalSandbox` (started on the first call)
keeps variables between calls. The box (see :mod:`ponder.tools.code.box`):
no network, a read-only view of the system and the interpreter, a private
work folder (a size-capped tmpfs, or a host folder the caller gives) and
``/tmp``, a scrubbed environment, a non-root uid, kernel rlimits, and a
control group bounding the session's memory, processes and CPU where cgroups
are usable.

The protocol: each request carries a fresh random id and only a reply with
that id answers it, so a late reply (of a cancelled call) or a forged one
(from a leftover process) is never taken for the next call's. After each
call every process but the worker is killed and the box is listed again to
check. Past the wall-clock limit, on cancellation, or when the session's CPU
is used up, the whole box is killed and the next call starts a fresh session
(``state_lost=True``). Code shares the worker's process, so within a session
one call's code can change what later calls report: the host trusts a
session's reply as "what the code printed" and nothing more (the debugger's
verdicts come from :func:`~ponder.tools.code.command.run_command`).

When the host runs as root, bwrap sets the box up without a user namespace
and ``setpriv`` drops to an unprivileged uid (one per sandbox, or one per
caller-given folder so that later sessions can change earlier sessions'
files), because the kernel ignores RLIMIT_NPROC for root.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from ponder.tools.code.box import (
    INTERPRETER,
    Box,
    bwrap_usable,
    folder_uid,
    fresh_uid,
    kill_box,
    launch_box,
)
from ponder.tools.code.result import (
    ExecutionError,
    ExecutionResult,
    SandboxLimits,
    SandboxUnavailableError,
)

__all__ = ["LocalSandbox"]

logger = logging.getLogger(__name__)

_WORKER = Path(__file__).with_name("_worker.py")
_START_TIMEOUT_S = 60.0
_CPU_POLL_S = 0.2
_INSTALL_HINT = (
    "Install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: "
    "`dnf install bubblewrap`) and allow user namespaces, or pass allow_unsandboxed=True "
    "(`--allow-unsandboxed` on the command line) to run with rlimits and a scrubbed "
    "environment only."
)
_SIGNAL_CAUSES = {
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGKILL: "killed (out of memory or by a limit)",
    signal.SIGSEGV: "segmentation fault",
}


class _CpuExceeded(Exception):
    """The session's processes together used more CPU time than ``cpu_s``."""


class LocalSandbox:
    """A notebook-like Python session in a local bubblewrap box (see module docs)."""

    def __init__(
        self,
        *,
        limits: SandboxLimits = SandboxLimits(),  # noqa: B008 - frozen, shared safely
        workdir: Path | None = None,
        seed: Path | None = None,
        allow_unsandboxed: bool = False,
    ) -> None:
        """``workdir``: a host folder the box may write (default: a private tmpfs).

        ``seed``: a host folder copied (read-only to the box) into the work folder
        at the start of each session.
        """
        self.limits = limits
        self._given_workdir = workdir
        self._seed = seed
        self._sandboxed = bwrap_usable()
        if not self._sandboxed:
            if not allow_unsandboxed:
                raise SandboxUnavailableError(
                    f"The local code sandbox needs bubblewrap (`bwrap`) on PATH. {_INSTALL_HINT}"
                )
            logger.warning(
                "bubblewrap unavailable: running code WITHOUT isolation "
                "(rlimits and a scrubbed environment only)"
            )
        self._uid = fresh_uid()
        self._box: Box | None = None
        self._host_tmp: Path | None = None  # only without bwrap
        self._sessions = 0
        self._lock = asyncio.Lock()

    @property
    def workdir(self) -> Path | None:
        """The caller's host folder the box writes to, if one was given."""
        return self._given_workdir

    @property
    def sandboxed(self) -> bool:
        """Whether code runs inside bubblewrap (False only with ``allow_unsandboxed``)."""
        return self._sandboxed

    async def run(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        """Run ``code`` in the session; a dead or missing session is (re)started first."""
        if not isinstance(code, str):
            raise TypeError("code must be a string")
        timeout = self.limits.wall_timeout_s if timeout_s is None else timeout_s
        if timeout <= 0:
            raise ValueError("timeout_s must be positive")
        async with self._lock:
            state_lost = False
            if self._box is None:
                state_lost = self._sessions > 0
                await self._start()
            return await self._call(code, timeout, state_lost=state_lost)

    async def aclose(self) -> None:
        """Kill the session (every process of its box) and drop its files."""
        async with self._lock:
            await self._stop()

    async def __aenter__(self) -> LocalSandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        box = getattr(self, "_box", None)  # absent if __init__ raised
        if box is not None:
            kill_box(box)

    async def _start(self) -> None:
        self._sessions += 1
        uid = self._uid
        workdir = None
        if self._given_workdir is not None:
            workdir = self._given_workdir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
            uid = folder_uid(workdir)
            if uid is not None:
                os.chown(workdir, uid, uid)
        if self._sandboxed:
            box = await launch_box(
                mode="session", limits=self.limits, uid=uid, workdir=workdir, seed=self._seed
            )
        else:
            box = await self._launch_unsandboxed(workdir)
        self._box = box
        assert box.proc.stdout is not None
        try:
            ready = await asyncio.wait_for(box.proc.stdout.readline(), _START_TIMEOUT_S)
        except (TimeoutError, ValueError, asyncio.LimitOverrunError):
            ready = b""
        if ready.strip() != b'{"ready": true}':
            stderr = await self._stop()
            raise SandboxUnavailableError(
                f"The code sandbox did not start: {stderr.strip() or 'no message'}. {_INSTALL_HINT}"
            )
        if self._sandboxed:
            box.note_core()

    async def _launch_unsandboxed(self, workdir: Path | None) -> Box:
        if workdir is None:
            workdir = self._host_tmp = Path(tempfile.mkdtemp(prefix="ponder-box-"))
            if self._seed is not None:
                shutil.copytree(self._seed, workdir, symlinks=True, dirs_exist_ok=True)
        config: dict[str, Any] = {
            "mode": "session",
            "limits": self.limits.for_worker(),
            "site_dirs": [],
            "seed": None,
        }
        proc = await asyncio.create_subprocess_exec(
            INTERPRETER, "-I", "-S", str(_WORKER), json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8"},
            cwd=workdir,
            start_new_session=True,
            limit=16 * self.limits.max_output_chars + 65_536,
        )  # fmt: skip
        return Box(proc, None)

    async def _call(self, code: str, limit_s: float, *, state_lost: bool) -> ExecutionResult:
        box = self._box
        assert box is not None
        started = time.perf_counter()
        request_id = secrets.token_hex(16)
        exchange = asyncio.ensure_future(self._exchange(box, request_id, code))
        try:
            line = await self._await_reply(box, exchange, started + limit_s)
        except TimeoutError:
            await self._stop()
            return ExecutionResult(
                error=ExecutionError("TimeoutError", f"no result within {limit_s:g} s", ""),
                timed_out=True,
                state_lost=state_lost,
                duration_s=time.perf_counter() - started,
            )
        except _CpuExceeded:
            await self._stop()
            return ExecutionResult(
                error=ExecutionError("CPUTimeExceeded", self._cpu_message(), ""),
                state_lost=state_lost,
                duration_s=time.perf_counter() - started,
            )
        except BaseException:  # cancelled: the code may still run, so the session goes
            exchange.cancel()
            self._kill_now()
            raise
        duration = time.perf_counter() - started
        reply = _parse_reply(line) if line else None
        if reply is None:
            cause = await self._death_cause()
            return ExecutionResult(
                error=ExecutionError("SessionDied", cause, ""),
                state_lost=state_lost,
                duration_s=duration,
            )
        error = reply.pop("error")
        if self._sandboxed and not box.sweep():
            await self._stop()
            error = ExecutionError(
                "SessionKilled",
                "processes started by the code could not all be stopped, so the session was "
                "killed; the next call starts a fresh session",
                "",
            )
        elif self._cpu_used() > self._cpu_budget_s():
            await self._stop()
            error = ExecutionError("CPUTimeExceeded", self._cpu_message(), "")
        return ExecutionResult(**reply, error=error, state_lost=state_lost, duration_s=duration)

    async def _exchange(self, box: Box, request_id: str, code: str) -> bytes:
        """Send one request; return the first reply line tagged with its id (b"" at EOF)."""
        proc = box.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps({"id": request_id, "code": code}).encode() + b"\n")
            await proc.stdin.drain()
            while True:
                line = await proc.stdout.readline()
                if not line or _reply_id(line) == request_id:
                    return line
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            return b""  # the worker died mid-call or sent an oversized line

    async def _await_reply(
        self, box: Box, exchange: asyncio.Future[bytes], deadline: float
    ) -> bytes:
        """The reply line; raises TimeoutError past ``deadline``, _CpuExceeded past ``cpu_s``."""
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                exchange.cancel()
                raise TimeoutError
            done, _ = await asyncio.wait({exchange}, timeout=min(_CPU_POLL_S, left))
            if done:
                return exchange.result()
            if box.cgroup is not None and box.cgroup.cpu_s() > self._cpu_budget_s():
                exchange.cancel()
                raise _CpuExceeded

    def _cpu_budget_s(self) -> float:
        """The session's CPU seconds: ``cpu_s`` plus the second of grace each process has."""
        return self.limits.cpu_s + 1.0

    def _cpu_used(self) -> float:
        box = self._box
        return 0.0 if box is None or box.cgroup is None else box.cgroup.cpu_s()

    def _cpu_message(self) -> str:
        return (
            f"the session's processes together used more than {self.limits.cpu_s} s of CPU "
            "time, so it was killed; the next call starts a fresh session"
        )

    async def _death_cause(self) -> str:
        box = self._box
        assert box is not None
        proc = box.proc
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 2)
        code = proc.returncode
        oom = box.cgroup is not None and box.cgroup.oom_kills() > 0
        await self._stop()
        if self._sandboxed and code is not None and code > 128:
            code = 128 - code  # bwrap reports a signal-killed child as 128 + signal
        if oom:
            detail = (
                f"the session ran out of memory (its processes together may use "
                f"{self.limits.memory_mb} MiB, files in its work folder and /tmp included)"
            )
        elif code is None:
            detail = "the session sent an unreadable reply and was killed"
        elif code < 0:
            sig = signal.Signals(-code)
            detail = f"the session was killed by {sig.name}: {_SIGNAL_CAUSES.get(sig, 'signal')}"
        else:
            detail = f"the session exited with status {code}"
        return f"{detail}; the next call starts a fresh session"

    def _kill_now(self) -> None:
        """Kill the box at once (no awaiting: used when the caller is cancelled)."""
        box, self._box = self._box, None
        if box is not None:
            kill_box(box)
            if box.proc.stdin is not None:
                box.proc.stdin.close()
        self._drop_host_tmp()

    async def _stop(self) -> str:
        """Kill every process of the box; return what the worker wrote to stderr."""
        box, self._box = self._box, None
        stderr = b""
        if box is not None:
            kill_box(box)
            proc = box.proc
            assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
            proc.stdin.close()
            with contextlib.suppress(TimeoutError, ValueError, asyncio.LimitOverrunError):
                _, stderr, _ = await asyncio.wait_for(
                    asyncio.gather(proc.stdout.read(), proc.stderr.read(), proc.wait()), 5
                )
        self._drop_host_tmp()
        return stderr.decode("utf-8", "replace")

    def _drop_host_tmp(self) -> None:
        if self._host_tmp is not None:
            shutil.rmtree(self._host_tmp, ignore_errors=True)  # fd-based: never follows links
            self._host_tmp = None


def _parse_reply(line: bytes) -> dict[str, Any] | None:
    """The worker's reply as ExecutionResult fields; None if missing or malformed."""
    try:
        data = json.loads(line)
        error = data["error"]
        reply: dict[str, Any] = {
            "stdout": _str(data["stdout"]),
            "stderr": _str(data["stderr"]),
            "value": None if data["value"] is None else _str(data["value"]),
            "error": None
            if error is None
            else ExecutionError(
                _str(error["name"]), _str(error["message"]), _str(error["traceback"])
            ),
            "truncated_chars": int(data["truncated_chars"]),
        }
    except (ValueError, TypeError, KeyError):
        return None
    return reply


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _reply_id(line: bytes) -> object:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data.get("id") if isinstance(data, dict) else None
