"""Typed chat requests, completions and stream events shared by every backend.

Reasoning lives only on :class:`AssistantMessage.reasoning` and
:class:`Completion.reasoning`: transient fields for the current run. What
reaches the wire is decided by the provider profile's replay policy; what
reaches storage is decided by ``ponder.memory``, which never accepts it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ponder.backends.wellformed import loads_json

__all__ = [
    "AssistantMessage",
    "ChatRequest",
    "Completed",
    "Completion",
    "ContentDelta",
    "FinishReason",
    "Message",
    "NamedToolChoice",
    "ReasoningDelta",
    "ResponseFormat",
    "RetryNotice",
    "StreamEvent",
    "SystemMessage",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolMessage",
    "ToolSpec",
    "Usage",
    "UsageUpdate",
    "UserMessage",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- tool calls


class ToolCall(_Frozen):
    """One tool call chosen by the model.

    ``arguments`` is the raw JSON text exactly as the model produced it;
    ``parsed`` holds the decoded value when it is valid JSON, otherwise
    ``parse_error`` says why it is not. Bad JSON is data, never an exception.
    """

    id: str
    name: str
    arguments: str = ""
    parsed: Any = None
    parse_error: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _parse_arguments(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "parsed" in data or "parse_error" in data:
            return data
        raw = data.get("arguments", "")
        if isinstance(raw, dict):  # Ollama's native API sends an object
            return {**data, "arguments": json.dumps(raw), "parsed": raw}
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            return {**data, "arguments": raw or "", "parsed": {}}
        try:
            return {**data, "parsed": loads_json(text)}
        except (ValueError, RecursionError) as exc:
            return {**data, "parse_error": f"arguments are not valid JSON: {exc}"}


class ToolSpec(_Frozen):
    """A function the model may call: a name, a description and a JSON Schema."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool = False


class NamedToolChoice(_Frozen):
    """Force the model to call this one tool."""

    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


class ResponseFormat(_Frozen):
    """What shape the final answer must take.

    ``json_object`` asks for any JSON object; ``json_schema`` for JSON valid
    against ``json_schema``. Profiles translate this into what each provider
    accepts (and fall back to ``json_object`` plus local validation).
    """

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None
    name: str = "answer"


# ------------------------------------------------------------------ messages


class SystemMessage(_Frozen):
    role: Literal["system"] = "system"
    content: str


class UserMessage(_Frozen):
    role: Literal["user"] = "user"
    content: str


class AssistantMessage(_Frozen):
    """A model turn. ``reasoning``/``reasoning_details`` are run-local only."""

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = Field(default=None, repr=False)
    reasoning_details: tuple[dict[str, Any], ...] | None = Field(default=None, repr=False)
    prefix: bool = False
    """Continue this message instead of starting a new one (assistant prefill)."""

    def without_reasoning(self) -> AssistantMessage:
        return self.model_copy(update={"reasoning": None, "reasoning_details": None})


class ToolMessage(_Frozen):
    role: Literal["tool"] = "tool"
    tool_call_id: str
    content: str
    name: str | None = None


Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage,
    Field(discriminator="role"),
]


# ------------------------------------------------------------------- request


class ChatRequest(_Frozen):
    """Everything one chat completion call needs, provider-neutral.

    Sampling defaults follow DeepSeek's advice for R1-class models
    (temperature 0.6, top-p 0.95). ``None`` means "do not send".
    """

    messages: tuple[Message, ...]
    model: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    temperature: float | None = 0.6
    top_p: float | None = 0.95
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    reasoning_effort: str | None = None
    force_thinking: bool = False
    """Prefill ``<think>\\n`` where the engine accepts an assistant prefix."""
    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific fields merged last into the JSON body."""


# ---------------------------------------------------------------- completion

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "unknown"]


class Usage(_Frozen):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        def _opt(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            reasoning_tokens=_opt(self.reasoning_tokens, other.reasoning_tokens),
            cached_tokens=_opt(self.cached_tokens, other.cached_tokens),
        )


class Completion(_Frozen):
    """One finished model turn, normalised across providers."""

    content: str = ""
    reasoning: str = Field(default="", repr=False)
    reasoning_details: tuple[dict[str, Any], ...] | None = Field(default=None, repr=False)
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason = "unknown"
    usage: Usage | None = None
    model: str | None = None
    thinking_skipped: bool = False
    """True when the model emitted an empty thought or none at all."""

    def to_message(self) -> AssistantMessage:
        """The assistant message to append to this run's history."""
        return AssistantMessage(
            content=self.content or None,
            tool_calls=self.tool_calls,
            reasoning=self.reasoning or None,
            reasoning_details=self.reasoning_details,
        )


# ------------------------------------------------------------- stream events


class ReasoningDelta(_Frozen):
    kind: Literal["reasoning"] = "reasoning"
    text: str


class ContentDelta(_Frozen):
    kind: Literal["content"] = "content"
    text: str


class ToolCallDelta(_Frozen):
    """A fragment of a tool call; fragments with one ``index`` form one call."""

    kind: Literal["tool_call_delta"] = "tool_call_delta"
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class UsageUpdate(_Frozen):
    kind: Literal["usage"] = "usage"
    usage: Usage


class RetryNotice(_Frozen):
    """The backend is about to retry after a transient failure."""

    kind: Literal["retry"] = "retry"
    attempt: int
    delay_s: float
    reason: str


class Completed(_Frozen):
    """Always the last event of a successful stream."""

    kind: Literal["completed"] = "completed"
    completion: Completion


StreamEvent = Annotated[
    ReasoningDelta | ContentDelta | ToolCallDelta | UsageUpdate | RetryNotice | Completed,
    Field(discriminator="kind"),
]
