"""LangGraph graphs that orchestrate reasoning models and tools.

The reason–act loop and its parts are here (its names load LangGraph on
first use, so ``Budgets`` and the event types come without it). The composed graphs live in
their own modules so importing this package stays light (they load sympy,
z3 and the sandbox): ``ponder.graphs.verify`` (solve → verify → revise),
``ponder.graphs.debug`` (reproduce → diagnose → fix → re-test) and
``ponder.graphs.patching`` (the unified-diff applier).
"""

import importlib
from typing import TYPE_CHECKING, Any

from ponder.graphs.answer_format import AnswerFormat, InvalidAnswer
from ponder.graphs.budgets import Budgets, Outcome
from ponder.graphs.events import (
    AnswerDelta,
    ErrorEvent,
    ReasoningEvent,
    RetryEvent,
    RunEvent,
    ToolCallEvent,
    ToolResultEvent,
    UsageEvent,
)

__all__ = [
    "AnswerDelta",
    "AnswerFormat",
    "Budgets",
    "ErrorEvent",
    "InvalidAnswer",
    "Outcome",
    "ReactContext",
    "ReactState",
    "ReasoningEvent",
    "RetryEvent",
    "RunEvent",
    "ToolCallEvent",
    "ToolRecord",
    "ToolResultEvent",
    "UsageEvent",
    "build_react_graph",
    "event_writer",
    "model_node",
    "route_after_model",
    "tool_node",
]

if TYPE_CHECKING:
    from ponder.graphs.react import (
        ReactContext,
        ReactState,
        ToolRecord,
        build_react_graph,
        event_writer,
        model_node,
        route_after_model,
        tool_node,
    )

_REACT_NAMES = frozenset(
    {
        "ReactContext",
        "ReactState",
        "ToolRecord",
        "build_react_graph",
        "event_writer",
        "model_node",
        "route_after_model",
        "tool_node",
    }
)


def __getattr__(name: str) -> Any:
    """The reason–act loop's names, imported on first use: it loads LangGraph (~0.5 s)."""
    if name in _REACT_NAMES:
        return getattr(importlib.import_module("ponder.graphs.react"), name)
    raise AttributeError(f"module 'ponder.graphs' has no attribute {name!r}")
