"""Starting, inspecting and killing one bubblewrap box (shared by sessions and commands).

A box is one bwrap process with fresh PID, network, IPC and UTS namespaces
(and a user namespace when the host is not root). The first process inside
runs ``_worker.py``. What it sees: the system's ``/usr``, ``/bin``, ``/lib*``
and ``/sbin``, the interpreter's prefix and site-packages, all read-only; a
minimal ``/dev``; its own ``/proc``; a private work folder at ``/home/user``
(a size-capped tmpfs unless the caller gives a host folder); a size-capped
``/tmp``; an optional read-only *seed* folder copied into the work folder at
start. No ``/etc``, ``/sys``, ``/root``, ``/work`` or host ``/tmp``.

Every process of a box is in its PID namespace, and in its control group
where cgroups are usable (:mod:`ponder.tools.code.cgroup`): :func:`kill_box`
ends all of them (pid 1 of the namespace dying takes the rest with it) and
:meth:`Box.sweep` kills all but the box's own three (bwrap, its init, the
worker), checked by listing the members again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.tools.code.cgroup import SessionCgroup, create_cgroup
from ponder.tools.code.result import SandboxLimits

__all__ = ["Box", "bwrap_usable", "folder_uid", "fresh_uid", "kill_box", "launch_box"]

_WORKER_SOURCE = Path(__file__).with_name("_worker.py").read_text(encoding="utf-8")
INTERPRETER = os.path.realpath(sys.executable)  # the real binary, not a venv link or shim
BOX_HOME = "/home/user"
_BOX_SEED = "/opt/ponder/seed"
BOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_UID_RANGE = (1_000_000_000, 1_100_000_000)  # unused by real accounts
_MB = 1024 * 1024


@dataclass
class Box:
    """A running box: its bwrap process, its control group (if any) and its own pids."""

    proc: asyncio.subprocess.Process
    cgroup: SessionCgroup | None
    core: frozenset[int] = field(default_factory=frozenset)

    def note_core(self) -> None:
        """Record the box's own processes (call once the worker is up, before any user code)."""
        self.core = frozenset(self.members())

    def members(self) -> set[int]:
        """Host pids of every process in the box now."""
        if self.cgroup is not None:
            return self.cgroup.pids()
        return _namespace_members(self.proc.pid)

    def sweep(self) -> bool:
        """Kill every process but the box's own; True when, listed again, none is left."""
        if self.cgroup is not None:
            return self.cgroup.kill(self.core)
        for _ in range(100):
            extra = self.members() - self.core
            if not extra:
                return True
            for pid in extra:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            _reap_pause()
        return not self.members() - self.core


def bwrap_usable() -> bool:
    """Whether bubblewrap can run boxes here."""
    if sys.platform != "linux" or shutil.which("bwrap") is None:
        return False
    return os.geteuid() != 0 or shutil.which("setpriv") is not None


def fresh_uid() -> int | None:
    """A random unprivileged uid for a box when the host is root, else None (keep ours)."""
    if os.geteuid() != 0:
        return None
    return _UID_RANGE[0] + secrets.randbelow(_UID_RANGE[1] - _UID_RANGE[0])


def folder_uid(folder: Path) -> int | None:
    """The box uid for a caller's folder: the same for every session over that folder."""
    if os.geteuid() != 0:
        return None
    info = os.stat(folder)
    digest = hashlib.sha256(f"{info.st_dev}:{info.st_ino}".encode()).digest()
    return _UID_RANGE[0] + int.from_bytes(digest[:8], "big") % (_UID_RANGE[1] - _UID_RANGE[0])


async def launch_box(
    *,
    mode: str,
    limits: SandboxLimits,
    uid: int | None,
    workdir: Path | None = None,
    seed: Path | None = None,
    argv: list[str] | None = None,
    merge_stderr: bool = False,
) -> Box:
    """Start a box running the worker in ``mode`` (``"session"`` or ``"command"``)."""
    config: dict[str, Any] = {
        "mode": mode,
        "limits": limits.for_worker(),
        "site_dirs": site_dirs(),
        "seed": None if seed is None else _BOX_SEED,
        "argv": argv,
    }
    command = [*_bwrap_argv(limits, uid, workdir, seed), INTERPRETER, "-I", "-S", "-c"]
    command += [_WORKER_SOURCE, json.dumps(config)]
    cgroup = create_cgroup(
        memory_bytes=limits.memory_mb * _MB,
        max_pids=limits.max_processes + 3,  # + bwrap, its init and setpriv's exec
    )
    if cgroup is not None:
        command = cgroup.wrap(command)
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE if mode == "session" else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
            env={"PATH": BOX_PATH, "HOME": BOX_HOME, "LANG": "C.UTF-8"},
            start_new_session=True,
            limit=16 * limits.max_output_chars + 65_536,
        )
    except BaseException:
        if cgroup is not None:
            cgroup.remove()
        raise
    return Box(proc, cgroup)


def kill_box(box: Box) -> None:
    """SIGKILL every process of the box now and delete its control group."""
    if box.proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(box.proc.pid, signal.SIGKILL)
    if box.cgroup is not None:
        box.cgroup.remove()


def site_dirs() -> list[str]:
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
    prefixes = {sys.base_prefix, sys.base_exec_prefix, *site_dirs()}
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


def _bwrap_argv(
    limits: SandboxLimits, uid: int | None, workdir: Path | None, seed: Path | None
) -> list[str]:
    """The bwrap command line up to (not including) the interpreter."""
    if uid is None:
        namespaces = ["--unshare-all"]
    else:
        namespaces = ["--unshare-ipc", "--unshare-net", "--unshare-pid", "--unshare-uts"]
        namespaces += ["--unshare-cgroup-try", "--cap-add", "CAP_SETUID,CAP_SETGID"]
    size = str(limits.disk_mb * _MB)
    argv = [
        "bwrap",
        *namespaces,
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv", "PATH", BOX_PATH,
        "--setenv", "HOME", BOX_HOME,
        "--setenv", "LANG", "C.UTF-8",
        # before the binds: a venv may live under /tmp
        "--size", size, "--perms", "1777", "--tmpfs", "/tmp",
        *_ro_binds(),
        "--proc", "/proc",
        "--dev", "/dev",
        *_parent_dirs(BOX_HOME),
    ]  # fmt: skip
    if workdir is None:
        argv += ["--size", size, "--perms", "0777", "--tmpfs", BOX_HOME]
    else:
        argv += ["--bind", str(workdir), BOX_HOME]
    if seed is not None:
        argv += [*_parent_dirs(_BOX_SEED), "--ro-bind", str(seed), _BOX_SEED]
    argv += ["--chdir", BOX_HOME]
    if uid is not None:
        argv += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        argv += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return argv


def _namespace_members(bwrap_pid: int) -> set[int]:
    """Pids in the PID namespace of ``bwrap_pid``'s child (no cgroup: scan /proc)."""
    target = None
    for pid in _all_pids():
        if _ppid(pid) == bwrap_pid:
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/ns/pid")
            break
    if target is None:
        return set()
    members = {bwrap_pid}
    for pid in _all_pids():
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/ns/pid") == target:
                members.add(pid)
    return members


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    return int(stat.rsplit(b")", 1)[1].split()[1])


def _reap_pause() -> None:
    os.sched_yield()
