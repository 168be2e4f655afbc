"""Which code runner ``run_python`` gets on this machine, and what to tell the user.

The order: the platform's local sandbox (bubblewrap on Linux, ``sandbox-exec``
on macOS); else E2B's cloud sandbox when ``E2B_API_KEY`` is set; else, only
when the user chose it, the local session without isolation; else no code
runner at all, with one line saying why and what would turn it on.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Literal

from ponder.tools.code.result import CodeRunner, SandboxLimits

__all__ = ["RunnerKind", "RunnerPlan", "local_sandbox_problem", "plan_runner"]

RunnerKind = Literal["bwrap", "seatbelt", "e2b", "unsandboxed"]

_PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RunnerPlan:
    """The runner to build (``kind``; ``None``: no code runner) and a line for the user."""

    kind: RunnerKind | None
    note: str | None = None

    def make(self, limits: SandboxLimits | None = None) -> CodeRunner | None:
        """A fresh runner of this kind (one per agent: runners keep session state)."""
        limits = limits or SandboxLimits()
        if self.kind == "bwrap":
            from ponder.tools.code.local import LocalSandbox

            return LocalSandbox(limits=limits)
        if self.kind == "seatbelt":
            from ponder.tools.code.seatbelt import SeatbeltSandbox

            return SeatbeltSandbox(limits=limits)
        if self.kind == "unsandboxed":
            from ponder.tools.code.local import LocalSandbox

            return LocalSandbox(limits=limits, allow_unsandboxed=True)
        if self.kind == "e2b":
            from ponder.tools.code.e2b import E2BRunner

            return E2BRunner()
        return None


def plan_runner(*, allow_unsandboxed: bool = False) -> RunnerPlan:
    """The best code runner available here (see the module docs for the order)."""
    problem = local_sandbox_problem()
    if problem is None:
        return RunnerPlan("seatbelt" if sys.platform == "darwin" else "bwrap")
    if os.environ.get("E2B_API_KEY"):
        if find_spec("e2b_code_interpreter") is not None:
            return RunnerPlan("e2b", f"{problem}, so run_python uses E2B's cloud sandbox")
        problem += " and E2B_API_KEY is set but pip install 'ponder[e2b]' is missing"
    if allow_unsandboxed:
        return RunnerPlan(
            "unsandboxed",
            f"{problem}, so run_python runs code WITHOUT isolation (--allow-unsandboxed)",
        )
    return RunnerPlan(
        None,
        f"{problem}, so run_python is off (set E2B_API_KEY for E2B's cloud sandbox, "
        "or pass --allow-unsandboxed to run code without isolation)",
    )


def local_sandbox_problem() -> str | None:
    """Why no local sandbox can run here, in a few words; ``None`` when one can."""
    return _local_sandbox_problem(os.environ.get("PATH", ""), sys.platform)


@functools.cache
def _local_sandbox_problem(path: str, platform: str) -> str | None:
    if platform == "darwin":
        if shutil.which("sandbox-exec", path=path) is None:
            return "macOS's sandbox-exec is not on PATH"
        return None
    if platform != "linux":
        return f"ponder knows no code sandbox on {platform}"
    bwrap = shutil.which("bwrap", path=path)
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    if os.geteuid() == 0 and shutil.which("setpriv", path=path) is None:
        return "bubblewrap as root needs setpriv (util-linux), which is missing"
    return _bwrap_probe(bwrap)


def _bwrap_probe(bwrap: str) -> str | None:
    """Run bwrap once with the namespaces the box uses: present is not the same as usable."""
    argv = [bwrap, "--unshare-net", "--unshare-pid", "--ro-bind", "/", "/", "--", "true"]
    if os.geteuid() != 0:
        argv[1:1] = ["--unshare-user"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=_PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot start ({exc})"
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = why[-1] if why else f"exit status {done.returncode}"
        return f"bubblewrap cannot create its namespaces here ({detail})"
    return None
