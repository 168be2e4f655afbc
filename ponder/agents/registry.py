"""Agents selectable by name (``ponder run --agent NAME``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ponder.agents.agent import Agent, StreamingAgent
from ponder.backends.protocol import ChatBackend
from ponder.graphs.budgets import Budgets
from ponder.memory import MemoryStore

__all__ = ["AGENT_MODES", "AGENT_NAMES", "StreamingAgent", "build_agent", "build_react_agent"]


def build_react_agent(
    *,
    backend: ChatBackend,
    memory: MemoryStore | None = None,
    budgets: Budgets | None = None,
    response_schema: dict[str, Any] | type[BaseModel] | None = None,
    approvals: dict[str, Any] | None = None,
    mcp_servers: list[Any] | None = None,
) -> Agent:
    """The general reason–act agent with every built-in tool.

    The code runner is the local sandbox (one notebook-like session per
    agent, closed with it), search is the offline local index;
    ``mcp_servers`` add those MCP servers' tools.
    """
    from ponder.tools.code import make_runner, run_python_tool
    from ponder.tools.proof import check_proof_tool
    from ponder.tools.search import LocalIndex, search_tool

    runner = make_runner("local")
    tools = [run_python_tool(runner), check_proof_tool(), search_tool(LocalIndex.default())]
    return Agent(
        backend,
        tools,
        memory=memory,
        budgets=budgets,
        response_schema=response_schema,
        closing=[runner],
        approvals=approvals,
        mcp_servers=mcp_servers or (),
    )


def _math_tutor(*, mode: str | None = None, **options: Any) -> StreamingAgent:
    from ponder.agents.math_tutor import build_math_tutor_agent

    return build_math_tutor_agent(mode=mode or "solve", **options)  # type: ignore[arg-type]


def _debugger(
    *,
    mode: str | None = None,
    project: Path | None = None,
    command: str | None = None,
    apply: bool = False,
    response_schema: dict[str, Any] | type[BaseModel] | None = None,
    **options: Any,
) -> StreamingAgent:
    from ponder.agents.debugger import build_debugger_agent

    if response_schema is not None:
        raise ValueError("the debugger answers with its own report; --schema does not apply")
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
