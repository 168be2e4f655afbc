"""Message content in the GenAI conventions' format, and redaction of reasoning.

Messages follow the conventions' input/output message JSON schemas
(``role`` + ``parts``; part types ``text``, ``tool_call``,
``tool_call_response``, ``reasoning``). Reasoning parts are written only
when reasoning capture is on. :class:`Scrubber` removes a run's reasoning
from free text of unknown origin (an exception message that echoes a
request, a tool error) before it reaches a span.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from ponder.backends.redact import replace_windows, windows
from ponder.backends.types import (
    AssistantMessage,
    Completion,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
)

__all__ = ["REDACTED", "Scrubber", "dumps", "finish_reason", "input_messages", "output_messages"]

REDACTED = "[reasoning redacted]"
_WINDOW = 24
"""A run of this many characters shared with the reasoning is redacted."""
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)


def dumps(value: Any) -> str:
    """Compact JSON, as attribute values carry it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def finish_reason(reason: str) -> str:
    """ponder's finish reason in the conventions' vocabulary (``tool_call``, not ``tool_calls``)."""
    return "tool_call" if reason == "tool_calls" else reason


def _tool_call_part(call: ToolCall) -> dict[str, Any]:
    arguments = call.parsed if call.parse_error is None else call.arguments
    return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": arguments}


def _assistant_parts(
    content: str | None, reasoning: str | None, calls: Iterable[ToolCall], *, with_reasoning: bool
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if with_reasoning and reasoning:
        parts.append({"type": "reasoning", "content": reasoning})
    if content:
        parts.append({"type": "text", "content": content})
    parts.extend(_tool_call_part(call) for call in calls)
    return parts


def input_messages(messages: Iterable[Message], *, with_reasoning: bool) -> list[dict[str, Any]]:
    """The request's messages, in order, as the conventions' input messages."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, AssistantMessage):
            parts = _assistant_parts(
                message.content,
                message.reasoning,
                message.tool_calls,
                with_reasoning=with_reasoning,
            )
            out.append({"role": "assistant", "parts": parts})
        elif isinstance(message, ToolMessage):
            part = {"type": "tool_call_response", "id": message.tool_call_id}
            out.append({"role": "tool", "parts": [{**part, "response": message.content}]})
        else:
            role = "system" if isinstance(message, SystemMessage) else "user"
            out.append({"role": role, "parts": [{"type": "text", "content": message.content}]})
    return out


def output_messages(completion: Completion, *, with_reasoning: bool) -> list[dict[str, Any]]:
    """One completion as the conventions' output messages (one choice)."""
    parts = _assistant_parts(
        completion.content,
        completion.reasoning,
        completion.tool_calls,
        with_reasoning=with_reasoning,
    )
    return [
        {
            "role": "assistant",
            "parts": parts,
            "finish_reason": finish_reason(completion.finish_reason),
        }
    ]


class Scrubber:
    """Removes a run's reasoning from text: ``<think>`` blocks and any echo of it.

    Every run of :data:`_WINDOW` characters (or a whole shorter thought) that
    also occurs in reasoning seen by this run is replaced by :data:`REDACTED`.
    The reasoning is held in memory for the run only.
    """

    def __init__(self) -> None:
        self._texts: list[str] = []
        self._pending: list[str] = []
        self._windows: set[str] = set()
        self._short: list[str] = []

    def add(self, reasoning: str) -> None:
        """A piece of reasoning (deltas may be added one by one)."""
        if reasoning:
            self._pending.append(reasoning)

    def end_thought(self) -> None:
        """The current step's reasoning is complete."""
        if self._pending:
            self._texts.append("".join(self._pending))
            self._pending.clear()
            self._index()

    def _index(self) -> None:
        text = self._texts[-1]
        if len(text) < _WINDOW:
            self._short.append(text)
            return
        self._windows.update(windows(text, _WINDOW))

    def scrub(self, text: str) -> str:
        """``text`` with every trace of this run's reasoning replaced."""
        self.end_thought()
        text = _THINK.sub(REDACTED, text)
        for needle in self._short:
            text = text.replace(needle, REDACTED)
        return replace_windows(text, self._windows, _WINDOW, REDACTED)
