"""Code runners for ``run_python``: a local bubblewrap sandbox and E2B, one interface."""

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
from ponder.tools.code.tool import make_runner, run_python_tool

__all__ = [
    "CodeRunner",
    "CommandOutcome",
    "E2BRunner",
    "ExecutionError",
    "ExecutionResult",
    "LocalSandbox",
    "SandboxLimits",
    "SandboxUnavailableError",
    "make_runner",
    "run_command",
    "run_python_tool",
]
