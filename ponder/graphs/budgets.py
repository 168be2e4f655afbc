"""Run budgets and the outcomes that end a run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Budgets", "Outcome"]

Outcome = Literal[
    "answered",
    "max_steps",
    "max_tool_calls",
    "max_tokens",
    "wall_time",
    "invalid_json",
    "truncated",
    "awaiting_approval",
]
"""Why a run ended. Anything but ``answered`` means a budget or check ended it.

``truncated``: the model's reply was cut off by the per-call token limit
(``finish_reason: "length"``); the partial text is returned, never stored.
``awaiting_approval``: the run paused for a person's decision on a tool call.
"""


@dataclass(frozen=True)
class Budgets:
    """Limits that always end a run with a clear outcome.

    ``max_steps`` counts model calls that may use tools. When they or the
    tool calls run out, one more model call without tools asks for the best
    answer so far, and the run's outcome names the budget.
    ``max_tokens`` caps prompt + completion tokens over the whole run;
    ``max_tokens_per_call`` is sent as each request's ``max_tokens``.
    """

    max_steps: int = 12
    max_tool_calls: int = 32
    max_tokens: int | None = None
    max_tokens_per_call: int | None = None
    wall_time_s: float | None = 600.0
    max_json_retries: int = 2

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if self.max_tool_calls < 0 or self.max_json_retries < 0:
            raise ValueError("budgets cannot be negative")
        for name in ("max_tokens", "max_tokens_per_call", "wall_time_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")
