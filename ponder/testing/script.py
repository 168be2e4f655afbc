"""What the fake model does: scripted turns, tool calls and recorded requests."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["USAGE_KEYS", "RecordedRequest", "Script", "ToolCallSpec", "Turn", "TurnUsage"]

USAGE_KEYS = frozenset({"prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens"})
"""Keys a :attr:`Turn.usage` override may set; ``total_tokens`` is always derived."""


@dataclass(frozen=True)
class ToolCallSpec:
    """One tool call the fake model makes.

    ``arguments`` as a dict is sent as compact JSON text; as a ``str`` it is
    sent verbatim, so a test can script broken JSON.
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)

    @property
    def arguments_text(self) -> str:
        """The arguments exactly as they go on the OpenAI wire."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True)
class Turn:
    """What the fake model does for one request.

    Streaming knobs (``chunk_chars``, ``delay_s``, ``drop_after_chunks``,
    ``error_after_chunks``, ``split_events``, ``keepalive_comments``) apply
    only to streamed requests. ``status`` answers with a provider-shaped HTTP
    error instead of a completion. ``raw_body`` answers 200 with exactly those
    bytes (and ``raw_headers``), bypassing the shape: for malformed-output
    tests.
    """

    reasoning: str = ""
    content: str = ""
    tool_calls: Sequence[ToolCallSpec] = ()
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    chunk_chars: int = 7
    delay_s: float = 0.0
    first_byte_delay_s: float = 0.0
    status: int | None = None
    error_message: str = "fake model error"
    retry_after: float | None = None
    drop_after_chunks: int | None = None
    error_after_chunks: int | None = None
    split_events: bool = False
    keepalive_comments: bool = False
    raw_body: bytes | None = None
    raw_headers: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.chunk_chars < 1:
            raise ValueError(f"chunk_chars must be >= 1, got {self.chunk_chars}")
        if self.delay_s < 0 or self.first_byte_delay_s < 0:
            raise ValueError("delays must be >= 0")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error code (400-599), got {self.status}")
        for name in ("drop_after_chunks", "error_after_chunks"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.usage is not None and not set(self.usage) <= USAGE_KEYS:
            unknown = ", ".join(sorted(set(self.usage) - USAGE_KEYS))
            raise ValueError(f"unknown usage keys: {unknown}; allowed: {sorted(USAGE_KEYS)}")

    @property
    def resolved_finish_reason(self) -> str:
        """``finish_reason`` or its default: ``tool_calls`` when there are calls."""
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"

    def token_usage(self, request_body: Mapping[str, Any] | None) -> TurnUsage:
        """Token counts: the override where given, else about 4 characters a token."""
        prompt_chars = len(json.dumps((request_body or {}).get("messages", []), ensure_ascii=False))
        calls = sum(len(c.name) + len(c.arguments_text) for c in self.tool_calls)
        reasoning = _tokens(len(self.reasoning))
        computed = {
            "prompt_tokens": _tokens(prompt_chars),
            "completion_tokens": reasoning + _tokens(len(self.content) + calls),
            "reasoning_tokens": reasoning,
            "cached_tokens": 0,
        }
        computed.update(self.usage or {})
        return TurnUsage(**computed)


@dataclass(frozen=True)
class TurnUsage:
    """Token counts of one turn, before a provider shapes them."""

    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


Script = Sequence[Turn] | Callable[[dict[str, Any]], Turn]
"""A list of turns consumed in order, or a function of the parsed request body."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake server received it (credentials redacted).

    Header names are lower-cased; ``body`` is the parsed JSON body, or
    ``None`` when there was none or it was not JSON; ``received_at`` is when
    it was read in full (``time.time()``).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    received_at: float = 0.0


def _tokens(chars: int) -> int:
    return (chars + 3) // 4
