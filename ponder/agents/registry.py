"""Agents selectable by name (``ponder run --agent NAME``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ponder.agents.agent import Agent
from ponder.backends.protocol import ChatBackend
from ponder.graphs.budgets import Budgets
from ponder.memory import MemoryStore

__all__ = ["AGENT_NAMES", "build_agent", "build_react_agent"]


def build_react_agent(
    *,
    backend: ChatBackend,
    memory: MemoryStore | None = None,
    budgets: Budgets | None = None,
    response_schema: dict[str, Any] | type[BaseModel] | None = None,
) -> Agent:
    """The general reason–act agent with every built-in tool.

    The code runner is the local sandbox (one notebook-like session per
    agent, closed with it), search is the offline local index.
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
    )


_AGENTS = {"react": build_react_agent}
AGENT_NAMES: tuple[str, ...] = tuple(_AGENTS)


def build_agent(name: str, **options: Any) -> Agent:
    """The agent called ``name``, built with ``options``."""
    try:
        factory = _AGENTS[name]
    except KeyError:
        raise ValueError(
            f"unknown agent {name!r}; choose one of: {', '.join(AGENT_NAMES)}"
        ) from None
    return factory(**options)
