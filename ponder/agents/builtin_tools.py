"""The built-in agents' tools, built without importing the agent stack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ponder.tools import Tool
    from ponder.tools.code import CodeRunner
    from ponder.tools.code.choice import RunnerPlan

__all__ = ["BuiltinTools", "builtin_tools", "math_tutor_tools"]


@dataclass(frozen=True)
class BuiltinTools:
    """An agent's built-in tools (``run_python`` only where a runner can run here).

    ``runner`` is the code runner's session; the agent built with these tools closes it.
    """

    tools: list[Tool]
    runner: CodeRunner | None


def builtin_tools(code_runner: RunnerPlan | None = None) -> BuiltinTools:
    """The tools, with ``run_python`` on ``code_runner`` (default: the best runner here)."""
    from ponder.tools.code import run_python_tool
    from ponder.tools.code.choice import plan_runner
    from ponder.tools.proof import check_proof_tool
    from ponder.tools.search import LocalIndex, search_tool

    runner = (code_runner or plan_runner()).make()
    code_tools = [] if runner is None else [run_python_tool(runner)]
    return BuiltinTools(
        [*code_tools, check_proof_tool(), search_tool(LocalIndex.default())], runner
    )


def math_tutor_tools(code_runner: RunnerPlan | None = None) -> BuiltinTools:
    """The math tutor's tools: ``check_proof``, then ``run_python`` where a runner can run."""
    from ponder.tools.code import run_python_tool
    from ponder.tools.code.choice import plan_runner
    from ponder.tools.proof import check_proof_tool

    runner = (code_runner or plan_runner()).make()
    code_tools = [] if runner is None else [run_python_tool(runner)]
    return BuiltinTools([check_proof_tool(), *code_tools], runner)
