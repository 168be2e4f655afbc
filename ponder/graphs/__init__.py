"""LangGraph graphs that orchestrate reasoning models and tools.

The reason–act loop and its parts are here. The composed graphs live in
their own modules so importing this package stays light (they load sympy,
z3 and the sandbox): ``ponder.graphs.verify`` (solve → verify → revise),
``ponder.graphs.debug`` (reproduce → diagnose → fix → re-test) and
``ponder.graphs.patching`` (the unified-diff applier).
"""

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
