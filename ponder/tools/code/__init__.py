"""Code runners for ``run_python``: local sandboxes (bubblewrap; macOS sandbox-exec) and E2B.

:func:`plan_runner` picks the one this machine can run, or none, with a line
for the user saying why.
"""

from ponder.tools.code.choice import RunnerPlan, local_sandbox_problem, plan_runner
from ponder.tools.code.command import CommandOutcome, run_command
from ponder.tools.code.e2b import E2BRunner
from ponder.tools.code.local import LocalSandbox
from ponder.tools.code.result import (
    CodeRunner,
    ExecutionError,
    ExecutionResult,
    SandboxLimits,
    SandboxUnavailableError,
)
from ponder.tools.code.seatbelt import SeatbeltSandbox, seatbelt_profile
from ponder.tools.code.tool import make_runner, run_python_tool

__all__ = [
    "CodeRunner",
    "CommandOutcome",
    "E2BRunner",
    "ExecutionError",
    "ExecutionResult",
    "LocalSandbox",
    "RunnerPlan",
    "SandboxLimits",
    "SandboxUnavailableError",
    "SeatbeltSandbox",
    "local_sandbox_problem",
    "make_runner",
    "plan_runner",
    "run_command",
    "run_python_tool",
    "seatbelt_profile",
]
