"""What a run returns: the answer and its evidence, never persisted reasoning."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.backends.types import Usage
from ponder.graphs.approval import PendingCall
from ponder.graphs.budgets import Outcome
from ponder.graphs.react import ToolRecord

__all__ = ["FinalEvent", "RunResult"]


class RunResult(BaseModel):
    """The outcome of one run.

    ``answer`` is the text, or in JSON mode the validated value (a dict, or
    an instance of the pydantic model you gave). ``reasoning`` is the
    model's thought for this run: live on this object only, excluded from
    :meth:`to_json_dict`, ``model_dump`` and ``repr``, and never stored.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    answer: Any
    answer_text: str | None
    thread_id: str
    outcome: Outcome
    tool_calls: list[ToolRecord]
    usage: Usage
    steps: int
    thinking_skipped: bool
    model: str
    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    """The run's id: resume a paused or interrupted run with it."""
    pending: list[PendingCall] = Field(default_factory=list)
    """The calls waiting for a decision when ``outcome == "awaiting_approval"``."""
    reasoning: str = Field(default="", exclude=True, repr=False)

    @property
    def ok(self) -> bool:
        """True when the model answered within every budget."""
        return self.outcome == "answered"

    def to_json_dict(self) -> dict[str, Any]:
        """The ``ponder run --json`` object."""
        answer = (
            self.answer.model_dump(mode="json")
            if isinstance(self.answer, BaseModel)
            else self.answer
        )
        return {
            "answer": answer,
            "thread_id": self.thread_id,
            "tool_calls": [record.model_dump(mode="json") for record in self.tool_calls],
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "reasoning_tokens": self.usage.reasoning_tokens,
                "cached_tokens": self.usage.cached_tokens,
                "total_tokens": self.usage.total_tokens,
            },
            "steps": self.steps,
            "outcome": self.outcome,
            "thinking_skipped": self.thinking_skipped,
            "run_id": self.run_id,
            "pending": [call.model_dump(mode="json") for call in self.pending],
        }


class FinalEvent(BaseModel):
    """The last event of :meth:`ponder.agents.Agent.astream`."""

    model_config = ConfigDict(frozen=True)

    type: Literal["final"] = "final"
    result: RunResult
