"""Typed events a run streams to its caller.

Reasoning reaches callers only as :class:`ReasoningEvent`; these events go
through LangGraph's ``custom`` stream channel, which is never checkpointed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.backends.types import Usage

__all__ = [
    "AnswerDelta",
    "ErrorEvent",
    "ReasoningEvent",
    "RetryEvent",
    "RunEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "UsageEvent",
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)
    step: int
    """1-based index of the model call this event belongs to."""


class ReasoningEvent(_Event):
    type: Literal["reasoning"] = "reasoning"
    text: str = Field(repr=False)


class AnswerDelta(_Event):
    type: Literal["answer_delta"] = "answer_delta"
    text: str


class ToolCallEvent(_Event):
    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    arguments: Any


class ToolResultEvent(_Event):
    type: Literal["tool_result"] = "tool_result"
    id: str
    name: str
    output: str
    ok: bool
    error_kind: str | None = None


class UsageEvent(_Event):
    type: Literal["usage"] = "usage"
    usage: Usage


class RetryEvent(_Event):
    type: Literal["retry"] = "retry"
    attempt: int
    delay_s: float
    reason: str


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    kind: str
    message: str


RunEvent = Annotated[
    ReasoningEvent
    | AnswerDelta
    | ToolCallEvent
    | ToolResultEvent
    | UsageEvent
    | RetryEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
