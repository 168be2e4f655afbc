"""One control group per box: a session's memory, processes and CPU counted together.

cgroup v1 (one hierarchy per controller, as on this project's machines) and
cgroup v2 (one unified hierarchy with the controllers delegated) are both
supported. The group is made under the host process's own group for each
controller; when that is not possible (no cgroup file system, no permission,
a controller missing) :func:`create_cgroup` returns ``None`` and the box runs
with per-process rlimits only (see the tools docs).

Processes are put in the group by a tiny ``sh`` wrapper that writes its own
pid to ``cgroup.procs`` and then ``exec``s bwrap, so nothing the box starts
is ever outside it. Code in the box cannot leave it: the box has no ``/sys``
and runs as an unprivileged uid.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

__all__ = ["SessionCgroup", "create_cgroup"]

_ROOT = Path("/sys/fs/cgroup")
_V1_CONTROLLERS = ("memory", "pids", "cpuacct", "freezer")
_V2_CONTROLLERS = ("memory", "pids")
_ENTER = (  # join each group named before "--", then exec the rest
    'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; shift; done; '
    'shift; exec "$@"'
)


class SessionCgroup:
    """A control group holding one box; see the module docs."""

    def __init__(self, dirs: dict[str, Path], version: int) -> None:
        self._dirs = dirs  # controller name (or "" for v2) -> folder
        self.version = version

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this group (the wrapper joins, then execs it)."""
        procs = [str(d / "cgroup.procs") for d in dict.fromkeys(self._dirs.values())]
        return ["/bin/sh", "-c", _ENTER, "sh", *procs, "--", *argv]

    def pids(self) -> set[int]:
        """The processes in the group now."""
        text = self._read("pids" if self.version == 1 else "", "cgroup.procs")
        return {int(p) for p in (text or "").split()}

    def cpu_s(self) -> float:
        """CPU seconds used by every process that ever ran in the group."""
        if self.version == 1:
            return int(self._read("cpuacct", "cpuacct.usage") or 0) / 1e9
        for line in (self._read("", "cpu.stat") or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
        return 0.0

    def oom_kills(self) -> int:
        """How many processes the kernel killed for the group's memory limit."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in (self._read("memory" if self.version == 1 else "", name) or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def kill(self, keep: frozenset[int] = frozenset(), rounds: int = 50) -> bool:
        """SIGKILL every process in the group except ``keep``; True once only those remain.

        The group is frozen while its members are listed and signalled, so a
        fork cannot slip between the listing and the kill. When the first
        listing holds only ``keep``, nothing else existed then: no freeze needed.
        """
        if not self.pids() - keep:
            return True
        for _ in range(rounds):
            self._freeze(True)
            try:
                extra = self.pids() - keep
                for pid in extra:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            finally:
                self._freeze(False)
            if not extra:
                return True
            time.sleep(0.005)
        return not self.pids() - keep

    def remove(self) -> bool:
        """Kill everything in the group and delete it; False if it would not go."""
        self.kill()
        for _ in range(200):
            try:
                for folder in dict.fromkeys(self._dirs.values()):
                    with contextlib.suppress(FileNotFoundError):
                        folder.rmdir()
                return True
            except OSError:  # EBUSY until the last member is gone
                time.sleep(0.01)
                self.kill()
        return False

    def _freeze(self, frozen: bool) -> None:
        if self.version == 2:
            self._write("", "cgroup.freeze", "1" if frozen else "0")
            want = "frozen 1" if frozen else "frozen 0"
            for _ in range(500):
                if want in (self._read("", "cgroup.events") or "").splitlines():
                    return
                time.sleep(0.002)
            return
        self._write("freezer", "freezer.state", "FROZEN" if frozen else "THAWED")
        for _ in range(500):
            state = (self._read("freezer", "freezer.state") or "").strip()
            if state == ("FROZEN" if frozen else "THAWED") or not state:
                return
            time.sleep(0.002)

    def _read(self, controller: str, name: str) -> str | None:
        try:
            return (self._dirs[controller] / name).read_text()
        except (OSError, KeyError):
            return None

    def _write(self, controller: str, name: str, value: str) -> None:
        with contextlib.suppress(OSError):
            (self._dirs[controller] / name).write_text(value)


def create_cgroup(*, memory_bytes: int, max_pids: int) -> SessionCgroup | None:
    """A fresh group with those limits, or ``None`` where cgroups cannot be used."""
    own = _own_groups()
    name = f"ponder-box-{secrets.token_hex(6)}"
    if "" in own and (_ROOT / "cgroup.controllers").exists():
        parent = _ROOT / own[""].lstrip("/")
        enabled = (parent / "cgroup.subtree_control").read_text().split() if parent.is_dir() else []
        if all(c in enabled for c in _V2_CONTROLLERS):
            return _make({"": parent / name}, 2, memory_bytes, max_pids)
    if all(c in own for c in _V1_CONTROLLERS):
        dirs = {c: _ROOT / c / own[c].lstrip("/") / name for c in _V1_CONTROLLERS}
        return _make(dirs, 1, memory_bytes, max_pids)
    return None


def _make(
    dirs: dict[str, Path], version: int, memory_bytes: int, max_pids: int
) -> SessionCgroup | None:
    made: list[Path] = []
    try:
        for folder in dict.fromkeys(dirs.values()):
            folder.mkdir()
            made.append(folder)
        if version == 1:
            (dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            swap = dirs["memory"] / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(memory_bytes))
            (dirs["pids"] / "pids.max").write_text(str(max_pids))
        else:
            (dirs[""] / "memory.max").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):
                (dirs[""] / "memory.swap.max").write_text("0")
            (dirs[""] / "pids.max").write_text(str(max_pids))
    except OSError:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        return None
    return SessionCgroup(dirs, version)


def _own_groups() -> dict[str, str]:
    """This process's group path per controller (``""`` for the v2 hierarchy)."""
    groups: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return groups
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            groups[controller] = path
    return groups
