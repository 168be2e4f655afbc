"""Agents selectable by name (``ponder run --agent NAME``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ponder.agents.agent import Agent, StreamingAgent
from ponder.agents.builtin_tools import BuiltinTools, builtin_tools
from ponder.backends.protocol import ChatBackend
from ponder.graphs.budgets import Budgets
from ponder.memory import MemoryStore
from ponder.tools.code.choice import RunnerPlan, local_sandbox_problem, plan_runner

__all__ = [
    "AGENT_MODES",
    "AGENT_NAMES",
    "StreamingAgent",
    "build_agent",
    "build_react_agent",
    "code_runner_plan",
]


def code_runner_plan(*, allow_unsandboxed: bool = False) -> RunnerPlan:
    """How ``run_python`` runs here (see :func:`ponder.tools.code.choice.plan_runner`).

    Its ``note``, when set, is the one line to show the user: no sandbox, so
    ``run_python`` is off, on E2B, or unsandboxed by choice.
    """
    return plan_runner(allow_unsandboxed=allow_unsandboxed)


def build_react_agent(
    *,
    backend: ChatBackend,
    memory: MemoryStore | None = None,
    budgets: Budgets | None = None,
    response_schema: dict[str, Any] | type[BaseModel] | None = None,
    code_runner: RunnerPlan | None = None,
    approvals: dict[str, Any] | None = None,
    mcp_servers: list[Any] | None = None,
    tools: BuiltinTools | None = None,
) -> Agent:
    """The general reason–act agent with every built-in tool.

    ``code_runner`` (default: :func:`code_runner_plan`) picks the runner of
    ``run_python``, one notebook-like session per agent, closed with it;
    where no runner can run, the agent has no ``run_python``. Search is the
    offline local index; ``mcp_servers`` add those MCP servers' tools.
    ``tools`` are the built-in tools when the caller built them already
    (:func:`~ponder.agents.builtin_tools.builtin_tools`); the agent owns them.
    """
    tools = tools or builtin_tools(code_runner or code_runner_plan())
    return Agent(
        backend,
        tools.tools,
        memory=memory,
        budgets=budgets,
        response_schema=response_schema,
        closing=[] if tools.runner is None else [tools.runner],
        approvals=approvals,
        mcp_servers=mcp_servers or (),
    )


def _math_tutor(*, mode: str | None = None, **options: Any) -> StreamingAgent:
    from ponder.agents.math_tutor import build_math_tutor_agent

    return build_math_tutor_agent(mode=mode or "solve", **options)  # type: ignore[arg-type]


_DEBUGGER_NEEDS_BOX = (
    "the debugger agent runs the project's code only inside the bubblewrap sandbox (Linux), "
    "and there is none here: {problem}"
)


def _debugger(
    *,
    mode: str | None = None,
    project: Path | None = None,
    command: str | None = None,
    apply: bool = False,
    response_schema: dict[str, Any] | type[BaseModel] | None = None,
    code_runner: RunnerPlan | None = None,
    **options: Any,
) -> StreamingAgent:
    from ponder.agents.debugger import build_debugger_agent

    if response_schema is not None:
        raise ValueError("the debugger answers with its own report; --schema does not apply")
    if (mode or "fix") == "fix" and (code_runner or code_runner_plan()).kind != "bwrap":
        problem = local_sandbox_problem() or "the macOS sandbox does not run the debugger yet"
        raise ValueError(_DEBUGGER_NEEDS_BOX.format(problem=problem))
    return build_debugger_agent(
        mode=mode or "fix",  # type: ignore[arg-type]
        project=project,
        command=command,
        apply=apply,
        **options,
    )


def _react(**options: Any) -> StreamingAgent:
    return build_react_agent(**options)


_AGENTS: dict[str, Callable[..., StreamingAgent]] = {
    "react": _react,
    "math-tutor": _math_tutor,
    "debugger": _debugger,
}
AGENT_NAMES: tuple[str, ...] = tuple(_AGENTS)
AGENT_MODES: dict[str, tuple[str, ...]] = {
    "react": (),
    "math-tutor": ("solve", "hints", "check"),
    "debugger": ("fix", "explain"),
}


def build_agent(name: str, **options: Any) -> StreamingAgent:
    """The agent called ``name``, built with ``options``.

    Raises ``ValueError`` for an unknown name, mode or option combination.
    """
    try:
        factory = _AGENTS[name]
    except KeyError:
        raise ValueError(
            f"unknown agent {name!r}; choose one of: {', '.join(AGENT_NAMES)}"
        ) from None
    mode = options.get("mode")
    if mode is not None and not AGENT_MODES[name]:
        raise ValueError(f"agent {name!r} has no modes")
    if mode is not None and mode not in AGENT_MODES[name]:
        choices = ", ".join(AGENT_MODES[name])
        raise ValueError(f"agent {name!r} has no mode {mode!r} (modes: {choices})")
    return factory(**options)
