"""A local, stateful Python session inside a bubblewrap box.

One worker process per :class:`LocalSandbox` (started on the first call)
keeps variables between calls. The box: no network (its own empty network
namespace), a read-only view of the system and the _INTERPRETER, one private
writable work folder plus a private ``/tmp``, a scrubbed environment, a
non-root uid and kernel rlimits on CPU, memory, processes, open files and
file size. Each call has a wall-clock limit; past it the whole box is killed
and the next call starts a fresh session (``state_lost=True``).

When the host runs as root, bwrap sets the box up without a user namespace
and ``setpriv`` drops to a fresh unprivileged uid, because the kernel ignores
RLIMIT_NPROC for root (also for root mapped into a user namespace).
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
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from ponder.tools.code.result import (
    ExecutionError,
    ExecutionResult,
    SandboxLimits,
    SandboxUnavailableError,
)

__all__ = ["LocalSandbox"]

logger = logging.getLogger(__name__)

_WORKER = Path(__file__).with_name("_worker.py")
_INTERPRETER = os.path.realpath(sys.executable)  # the real binary, not a venv link or shim
_BOX_HOME = "/home/user"
_BOX_WORKER = "/opt/ponder/_worker.py"
_BOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_UID_RANGE = (1_000_000_000, 1_100_000_000)  # unused by real accounts; one uid per session
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


class LocalSandbox:
    """A notebook-like Python session in a local bubblewrap box (see module docs)."""

    def __init__(
        self,
        *,
        limits: SandboxLimits = SandboxLimits(),  # noqa: B008 - frozen, shared safely
        workdir: Path | None = None,
        allow_unsandboxed: bool = False,
    ) -> None:
        self.limits = limits
        self._given_workdir = workdir
        self._sandboxed = self._box_usable()
        if not self._sandboxed:
            if not allow_unsandboxed:
                raise SandboxUnavailableError(
                    f"The local code sandbox needs bubblewrap (`bwrap`) on PATH. {_INSTALL_HINT}"
                )
            logger.warning(
                "bubblewrap unavailable: running code WITHOUT isolation "
                "(rlimits and a scrubbed environment only)"
            )
        self._proc: asyncio.subprocess.Process | None = None
        self._workdir: Path | None = None
        self._sessions = 0
        self._lock = asyncio.Lock()

    @property
    def workdir(self) -> Path | None:
        """The host folder the current session writes to (``None`` before the first call)."""
        return self._workdir

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
            if self._proc is None:
                state_lost = self._sessions > 0
                await self._start()
            return await self._call(code, timeout, state_lost=state_lost)

    async def aclose(self) -> None:
        """Kill the session and delete its work folder (unless the caller gave it)."""
        async with self._lock:
            await self._stop()

    async def __aenter__(self) -> LocalSandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        proc = getattr(self, "_proc", None)  # absent if __init__ raised
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    async def _start(self) -> None:
        self._sessions += 1
        uid = _box_uid()
        if self._given_workdir is not None:
            workdir = self._given_workdir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(tempfile.mkdtemp(prefix="ponder-box-"))
        if uid is not None:
            os.chown(workdir, uid, uid)
        self._workdir = workdir
        config = json.dumps(
            {
                "limits": {
                    "cpu_s": self.limits.cpu_s,
                    "memory_mb": self.limits.memory_mb,
                    "max_processes": self.limits.max_processes,
                    "max_open_files": self.limits.max_open_files,
                    "max_file_mb": self.limits.max_file_mb,
                    "max_output_chars": self.limits.max_output_chars,
                },
                "site_dirs": _site_dirs(),
            }
        )
        argv, cwd, env = self._command(workdir, uid, config)
        self._proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
            limit=16 * self.limits.max_output_chars + 65_536,
        )
        assert self._proc.stdout is not None
        ready = await self._proc.stdout.readline()
        if ready.strip() != b'{"ready": true}':
            stderr = await self._stop()
            raise SandboxUnavailableError(
                f"The code sandbox did not start: {stderr.strip() or 'no message'}. {_INSTALL_HINT}"
            )

    def _box_usable(self) -> bool:
        """Whether this machine can run the box (else only ``allow_unsandboxed`` runs code)."""
        return _bwrap_usable()

    def _command(
        self, workdir: Path, uid: int | None, config: str
    ) -> tuple[list[str], Path | None, dict[str, str]]:
        """The worker's argv, working folder and environment."""
        if self._sandboxed:
            argv = [*_bwrap_argv(workdir, uid), _INTERPRETER, "-I", "-S", _BOX_WORKER, config]
            cwd = None
        else:
            argv = [_INTERPRETER, "-I", "-S", str(_WORKER), config]
            cwd = workdir
        env = {"PATH": _BOX_PATH, "HOME": _BOX_HOME if self._sandboxed else str(workdir)}
        env["LANG"] = "C.UTF-8"
        return argv, cwd, env

    async def _call(self, code: str, limit_s: float, *, state_lost: bool) -> ExecutionResult:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        started = time.perf_counter()
        try:
            proc.stdin.write(json.dumps({"code": code}).encode() + b"\n")
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), limit_s)
        except TimeoutError:
            await self._stop()
            return ExecutionResult(
                error=ExecutionError("TimeoutError", f"no result within {limit_s:g} s", ""),
                timed_out=True,
                state_lost=state_lost,
                duration_s=time.perf_counter() - started,
            )
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            line = b""  # the worker died mid-call or sent an oversized line
        duration = time.perf_counter() - started
        reply = _parse_reply(line)
        if reply is None:
            cause = await self._death_cause()
            return ExecutionResult(
                error=ExecutionError("SessionDied", cause, ""),
                state_lost=state_lost,
                duration_s=duration,
            )
        return ExecutionResult(**reply, state_lost=state_lost, duration_s=duration)

    async def _death_cause(self) -> str:
        proc = self._proc
        assert proc is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 2)
        code = proc.returncode
        await self._stop()
        if self._sandboxed and code is not None and code > 128:
            code = 128 - code  # bwrap reports a signal-killed child as 128 + signal
        if code is None:
            detail = "the session sent an unreadable reply and was killed"
        elif code < 0:
            sig = signal.Signals(-code)
            detail = f"the session was killed by {sig.name}: {_SIGNAL_CAUSES.get(sig, 'signal')}"
        else:
            detail = f"the session exited with status {code}"
        return f"{detail}; the next call starts a fresh session"

    async def _stop(self) -> str:
        """Kill the worker's whole process group; return what it wrote to stderr."""
        proc, self._proc = self._proc, None
        stderr = b""
        if proc is not None:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
            proc.stdin.close()
            with contextlib.suppress(TimeoutError):  # EOF once the whole box is gone
                _, stderr, _ = await asyncio.wait_for(
                    asyncio.gather(proc.stdout.read(), proc.stderr.read(), proc.wait()), 5
                )
        if self._workdir is not None and self._given_workdir is None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return stderr.decode("utf-8", "replace")


def _bwrap_usable() -> bool:
    if sys.platform != "linux" or shutil.which("bwrap") is None:
        return False
    return os.geteuid() != 0 or shutil.which("setpriv") is not None


def _box_uid() -> int | None:
    """A fresh unprivileged uid for the box when we are root, else None (keep ours)."""
    if os.geteuid() != 0:
        return None
    return _UID_RANGE[0] + secrets.randbelow(_UID_RANGE[1] - _UID_RANGE[0])


def _site_dirs() -> list[str]:
    """Where the host's installed packages live, so the box can import them (read-only)."""
    paths = sysconfig.get_paths()
    dirs = dict.fromkeys(p for p in (paths["purelib"], paths["platlib"]) if os.path.isdir(p))
    return list(dirs)


def _ro_binds() -> list[str]:
    args: list[str] = []
    for top in ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    prefixes = {sys.base_prefix, sys.base_exec_prefix, *_site_dirs()}
    for path in sorted(prefixes):
        if not path.startswith("/usr/"):
            args += [*_parent_dirs(path), "--ro-bind", path, path]
    return args


def _parent_dirs(path: str) -> list[str]:
    """Create ``path``'s ancestors world-traversable (bwrap's default is owner-only).

    ``/tmp`` is skipped: it is the box's own world-writable tmpfs.
    """
    args: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        parent = "/" + "/".join(parts[: i + 1])
        if parent != "/tmp":
            args += ["--perms", "0755", "--dir", parent]
    return args


def _bwrap_argv(workdir: Path, uid: int | None) -> list[str]:
    """The bwrap command line up to (not including) the interpreter."""
    if uid is None:
        namespaces = ["--unshare-all"]
    else:
        namespaces = ["--unshare-ipc", "--unshare-net", "--unshare-pid", "--unshare-uts"]
        namespaces += ["--unshare-cgroup-try", "--cap-add", "CAP_SETUID,CAP_SETGID"]
    argv = [
        "bwrap",
        *namespaces,
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv", "PATH", _BOX_PATH,
        "--setenv", "HOME", _BOX_HOME,
        "--setenv", "LANG", "C.UTF-8",
        "--perms", "1777", "--tmpfs", "/tmp",  # before the binds: a venv may live under /tmp
        *_ro_binds(),
        "--proc", "/proc",
        "--dev", "/dev",
        *_parent_dirs(_BOX_WORKER),
        "--ro-bind", str(_WORKER), _BOX_WORKER,
        *_parent_dirs(_BOX_HOME),
        "--bind", str(workdir), _BOX_HOME,
        "--chdir", _BOX_HOME,
    ]  # fmt: skip
    if uid is not None:
        argv += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        argv += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return argv


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
