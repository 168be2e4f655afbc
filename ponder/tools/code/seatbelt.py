"""The local session on macOS, boxed by the platform's own sandbox (``sandbox-exec``).

The same worker and protocol as the bubblewrap box; the isolation comes from
a Seatbelt (SBPL) profile that denies everything by default and then allows:
reading the system, the interpreter and its installed packages; reading and
writing the session's work folder (its ``TMPDIR`` lives there); running
processes and signalling them inside the same sandbox. No network rule is
allowed, so every socket to the network is refused; the environment is
scrubbed and the worker's rlimits bound CPU time, open files and file size.

What it cannot promise as bubblewrap does (and this module is **untested on
macOS**: it was written and its profile checked on Linux):

- no own process namespace: the code runs as your user, can list your
  processes (it cannot signal them) and ``RLIMIT_NPROC`` counts all of your
  processes, so a session may be refused new subprocesses early;
- macOS does not enforce ``RLIMIT_AS``: the memory bound is not kept;
- file metadata (names, sizes) outside the allowed folders stays readable;
  contents do not.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ponder.tools.code.box import BOX_PATH, INTERPRETER, Box
from ponder.tools.code.local import _WORKER, LocalSandbox
from ponder.tools.code.result import SandboxLimits, SandboxUnavailableError

__all__ = ["SeatbeltSandbox", "seatbelt_available", "seatbelt_profile"]

_SYSTEM_READ = (
    "/usr",
    "/bin",
    "/sbin",
    "/System",
    "/Library",
    "/private/etc",
    "/private/var/db/dyld",
    "/dev",
)
_DEVICES_RW = ("/dev/null", "/dev/zero", "/dev/tty", "/dev/dtracehelper")
_TMP = ".tmp"


def seatbelt_available() -> bool:
    """Whether this is macOS with ``sandbox-exec`` on PATH."""
    return sys.platform == "darwin" and shutil.which("sandbox-exec") is not None


def seatbelt_profile(workdir: Path, readable: Iterable[str]) -> str:
    """The SBPL profile: deny by default; read ``readable`` and the system; write ``workdir``."""
    paths = sorted({_real(p) for p in (*_SYSTEM_READ, *readable)})
    read = " ".join(f"(subpath {_quote(p)})" for p in paths)
    devices = " ".join(f"(literal {_quote(d)})" for d in _DEVICES_RW)
    lines = [
        "(version 1)",
        "(deny default)",
        "(allow process-exec process-fork)",
        "(allow signal (target same-sandbox))",
        "(allow process-info* (target same-sandbox))",
        "(allow sysctl-read)",
        "(allow user-preference-read)",
        "(allow ipc-posix-sem ipc-posix-shm)",
        '(allow mach-lookup (global-name "com.apple.system.opendirectoryd.libinfo"))',
        "(allow file-read-metadata)",
        f"(allow file-read* {read})",
        f"(allow file-read* file-write* {devices})",
        f"(allow file-read* file-write* (subpath {_quote(_real(str(workdir)))}))",
    ]
    return "\n".join(lines) + "\n"


class SeatbeltSandbox(LocalSandbox):
    """A notebook-like Python session boxed by ``sandbox-exec`` on macOS (see module docs)."""

    def __init__(
        self,
        *,
        limits: SandboxLimits = SandboxLimits(),  # noqa: B008 - frozen, shared safely
        workdir: Path | None = None,
        seed: Path | None = None,
    ) -> None:
        if not seatbelt_available():
            raise SandboxUnavailableError(
                "The macOS code sandbox needs sandbox-exec (macOS only, /usr/bin/sandbox-exec)"
            )
        # LocalSandbox warns that code runs without bubblewrap; here sandbox-exec boxes it
        local_log = logging.getLogger("ponder.tools.code.local")
        level = local_log.level
        local_log.setLevel(logging.ERROR)
        try:
            super().__init__(limits=limits, workdir=workdir, seed=seed, allow_unsandboxed=True)
        finally:
            local_log.setLevel(level)

    @property
    def sandboxed(self) -> bool:
        """Always True: the session runs inside a sandbox-exec profile."""
        return True

    async def _launch_unsandboxed(self, workdir: Path | None) -> Box:
        if workdir is None:
            workdir = self._host_tmp = Path(tempfile.mkdtemp(prefix="ponder-box-"))
            if self._seed is not None:
                shutil.copytree(self._seed, workdir, symlinks=True, dirs_exist_ok=True)
        tmp = workdir / _TMP
        tmp.mkdir(exist_ok=True)
        config: dict[str, Any] = {
            "mode": "session",
            "limits": self.limits.for_worker(),
            "site_dirs": [],
            "seed": None,
        }
        readable = [sys.base_prefix, sys.base_exec_prefix, INTERPRETER, str(_WORKER.parent)]
        profile = seatbelt_profile(workdir, readable)
        sandbox_exec = shutil.which("sandbox-exec") or "/usr/bin/sandbox-exec"
        proc = await asyncio.create_subprocess_exec(
            sandbox_exec, "-p", profile, INTERPRETER, "-I", "-S", str(_WORKER), json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"PATH": BOX_PATH, "HOME": str(workdir), "TMPDIR": str(tmp), "LANG": "C.UTF-8"},
            cwd=workdir,
            start_new_session=True,
            limit=16 * self.limits.max_output_chars + 65_536,
        )  # fmt: skip
        return Box(proc, None)


def _real(path: str) -> str:
    """Seatbelt matches resolved paths (``/tmp`` is ``/private/tmp`` on macOS)."""
    return os.path.realpath(path)


def _quote(path: str) -> str:
    """``path`` as an SBPL string literal."""
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
