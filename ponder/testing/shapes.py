"""Per-provider response shapes: completions, stream chunks and NDJSON lines.

A :class:`Shape` is data describing how one provider spells the OpenAI wire;
the functions below turn a :class:`~ponder.testing.script.Turn` into that
provider's bytes-to-be. Sections (§) refer to ``shared/R1-PROTOCOL.md``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from ponder.testing.error_bodies import ErrorStyle, error_body
from ponder.testing.script import ToolCallSpec, Turn, TurnUsage

__all__ = [
    "SHAPES",
    "SHAPE_NAMES",
    "Reply",
    "Shape",
    "chat_chunks",
    "chat_completion",
    "ollama_chat_lines",
    "ollama_chat_response",
    "ollama_timestamp",
    "raw_tool_text",
    "stream_error_event",
]

Inline = Literal["none", "think", "raw", "distill"]
UsageStyle = Literal["deepseek", "openai", "llamacpp", "openrouter"]
StreamUsage = Literal["final_chunk", "include_usage", "always"]
Empty = Literal["keep", "null", "omit", "list"]


@dataclass(frozen=True)
class Shape:
    """How one provider or engine spells completions, chunks and errors."""

    name: str
    reasoning_field: str | None
    """``message``/``delta`` field carrying reasoning; ``None`` when it is inline."""
    inline: Inline = "none"
    """``think``: ``<think>…</think>`` opens content; ``raw``: that plus R1 tool
    tokens instead of native tool calls; ``distill``: like raw but only ``</think>``."""
    reasoning_details: bool = False
    usage_style: UsageStyle = "openai"
    stream_usage: StreamUsage = "include_usage"
    error_style: ErrorStyle = "openai"
    delta_base: Mapping[str, Any] = field(default_factory=dict)
    """Fields every streamed delta carries (e.g. DeepSeek's explicit nulls)."""
    first_delta: Mapping[str, Any] = field(default_factory=dict)
    choice_extras: Mapping[str, Any] = field(default_factory=dict)
    chunk_extras: Mapping[str, Any] = field(default_factory=dict)
    empty_reasoning: Empty = "omit"
    empty_content: Empty = "keep"
    empty_tool_calls: Empty = "omit"
    whole_tool_calls: bool = False
    """Stream each tool call complete in one delta (Ollama) instead of fragments."""
    tool_turn_content: str = ""
    """A content delta streamed just before native tool calls (llama.cpp: "<tool_call>")."""
    id_prefix: str = "chatcmpl-"
    tool_id_prefix: str = "call_"
    keepalive: bytes = b": keep-alive\n\n"
    done_after_error: bool = False
    owned_by: str = "fake"
    native_ollama: bool = False
    """Serve ``/api/chat`` (NDJSON) at the root; ``base_url`` has no ``/v1``."""

    @property
    def native_tool_calls(self) -> bool:
        return self.inline not in ("raw", "distill")


_DEEPSEEK = Shape(
    # §1: reasoning_content next to content; explicit nulls in deltas; usage with
    # cache hit/miss and reasoning tokens on the final chunk; ": keep-alive" comments.
    name="deepseek",
    reasoning_field="reasoning_content",
    usage_style="deepseek",
    stream_usage="final_chunk",
    error_style="openai",
    delta_base={"content": None, "reasoning_content": None},
    first_delta={"role": "assistant", "reasoning_content": ""},
    choice_extras={"logprobs": None},
    chunk_extras={"system_fingerprint": "fp_fake_ponder"},
    empty_reasoning="keep",
    id_prefix="",
    tool_id_prefix="call_{index:02d}_",
    owned_by="deepseek",
)
_VLLM = Shape(
    # §3: `reasoning` (reasoning_content removed, PR #33402); usage only with
    # stream_options.include_usage, as a last chunk with empty choices.
    name="vllm",
    reasoning_field="reasoning",
    error_style="vllm",
    first_delta={"role": "assistant", "content": ""},
    choice_extras={"logprobs": None},
    empty_reasoning="null",
    empty_content="null",
    empty_tool_calls="list",
    tool_id_prefix="chatcmpl-tool-",
    done_after_error=True,
    owned_by="vllm",
)
_LLAMACPP = Shape(
    # §5: llama-server --reasoning-format deepseek. A real server (issue 12) streams a
    # "<tool_call>" content delta before the tool-call deltas of a tool turn.
    name="llamacpp",
    tool_turn_content="<tool_call>",
    reasoning_field="reasoning_content",
    usage_style="llamacpp",
    error_style="llamacpp",
    first_delta={"role": "assistant", "content": None},
    chunk_extras={"system_fingerprint": "b0-ponder-fake"},
    empty_content="null",
    tool_id_prefix="",
    owned_by="llamacpp",
)
_OLLAMA = Shape(
    # §4 and ollama openai/openai.go: `reasoning`, role and content on every
    # delta, each tool call whole in one delta, usage only with include_usage.
    name="ollama",
    reasoning_field="reasoning",
    error_style="ollama_v1",
    delta_base={"role": "assistant", "content": ""},
    chunk_extras={"system_fingerprint": "fp_ollama"},
    whole_tool_calls=True,
    owned_by="library",
)

SHAPES: dict[str, Shape] = {
    "deepseek": _DEEPSEEK,
    # §1 legacy R1 contract: same wire, different request rules (see rules.py).
    "deepseek-r1": replace(_DEEPSEEK, name="deepseek-r1"),
    "vllm": _VLLM,
    "sglang": Shape(
        # §3: SGLang keeps `reasoning_content`; flat ErrorResponse.
        name="sglang",
        reasoning_field="reasoning_content",
        error_style="sglang",
        first_delta={"role": "assistant", "content": ""},
        choice_extras={"logprobs": None},
        chunk_extras={"usage": None},
        empty_reasoning="null",
        empty_content="null",
        empty_tool_calls="null",
        done_after_error=True,
        owned_by="sglang",
    ),
    "ollama": _OLLAMA,
    # §4 native /api/chat: NDJSON lines, {"error": "..."} bodies.
    "ollama-native": replace(
        _OLLAMA, name="ollama-native", native_ollama=True, error_style="ollama_native"
    ),
    "llamacpp": _LLAMACPP,
    # §5 --reasoning-format none: thoughts stay in content; tools still native.
    "llamacpp-none": replace(_LLAMACPP, name="llamacpp-none", reasoning_field=None, inline="think"),
    # §5 --reasoning-format none with an R1-Distill GGUF whose template opens <think> and
    # renders no tools: output starts mid-thought, tool calls come as raw R1 text, and
    # any JSON grammar fails with 400 "Failed to initialize samplers" (see rules.py).
    "llamacpp-r1-none": replace(
        _LLAMACPP, name="llamacpp-r1-none", reasoning_field=None, inline="distill"
    ),
    "openrouter": Shape(
        # §6: `reasoning` plus `reasoning_details`; usage always sent last.
        name="openrouter",
        reasoning_field="reasoning",
        reasoning_details=True,
        usage_style="openrouter",
        stream_usage="always",
        error_style="openrouter",
        delta_base={"role": "assistant", "content": ""},
        choice_extras={"native_finish_reason": None, "logprobs": None},
        chunk_extras={"provider": "FakeProvider"},
        empty_reasoning="null",
        id_prefix="gen-",
        keepalive=b": OPENROUTER PROCESSING\n\n",
        owned_by="openrouter",
    ),
    # §2/§3: an engine with no reasoning or tool parser returns raw text.
    "raw": replace(_VLLM, name="raw", reasoning_field=None, inline="raw"),
    "distill": replace(_VLLM, name="distill", reasoning_field=None, inline="distill"),
}
SHAPE_NAMES: tuple[str, ...] = tuple(SHAPES)

# §2: R1's raw tool-call tokens (fullwidth bars, U+2581 for spaces).
_CALLS_BEGIN = "<｜tool▁calls▁begin｜>"
_CALLS_END = "<｜tool▁calls▁end｜>"
_CALL_BEGIN = "<｜tool▁call▁begin｜>"
_CALL_END = "<｜tool▁call▁end｜>"
_SEP = "<｜tool▁sep｜>"


def raw_tool_text(calls: tuple[ToolCallSpec, ...] | list[ToolCallSpec]) -> str:
    """R1-0528's raw tool-call text (§2), as an engine without a parser returns it."""
    if not calls:
        return ""
    body = "\n".join(
        f"{_CALL_BEGIN}function{_SEP}{c.name}\n```json\n{c.arguments_text}\n```{_CALL_END}"
        for c in calls
    )
    return f"{_CALLS_BEGIN}{body}{_CALLS_END}"


@dataclass(frozen=True)
class Reply:
    """One turn as a shape puts it on the wire, with ids fixed for this response."""

    shape: Shape
    turn: Turn
    model: str
    usage: TurnUsage
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def response_id(self) -> str:
        return f"{self.shape.id_prefix}{self.id}"

    @property
    def reasoning(self) -> str:
        """Reasoning for the shape's reasoning field (empty when inline)."""
        return self.turn.reasoning if self.shape.reasoning_field else ""

    @property
    def content(self) -> str:
        """Content, with inline thoughts and raw tool tokens where the shape has them."""
        turn, inline = self.turn, self.shape.inline
        if inline == "none":
            return turn.content
        if inline == "distill":  # the template opened <think>: output starts mid-thought
            thought = f"{turn.reasoning}\n</think>\n\n"
        else:
            thought = f"<think>\n{turn.reasoning}\n</think>\n\n"
        tools = "" if self.shape.native_tool_calls else raw_tool_text(list(turn.tool_calls))
        return thought + turn.content + tools

    @property
    def tool_calls(self) -> list[ToolCallSpec]:
        return list(self.turn.tool_calls) if self.shape.native_tool_calls else []

    @property
    def finish_reason(self) -> str:
        if self.turn.finish_reason is None and not self.shape.native_tool_calls:
            return "stop"  # the engine saw no tool call, only text
        return self.turn.resolved_finish_reason

    def tool_call_id(self, index: int) -> str:
        prefix = self.shape.tool_id_prefix.format(index=index)
        return f"{prefix}{self.id[:8]}{index:04d}{uuid.uuid4().hex[:12]}"

    def chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        """A ``chat.completion.chunk`` envelope around ``choices``."""
        return {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            **self.shape.chunk_extras,
            "choices": choices,
            **extra,
        }


# ---------------------------------------------------------------- OpenAI wire


def chat_completion(reply: Reply) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` object."""
    shape = reply.shape
    choice = {
        "index": 0,
        "message": _message(reply),
        **shape.choice_extras,
        "finish_reason": reply.finish_reason,
    }
    return {
        "id": reply.response_id,
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        **shape.chunk_extras,
        "choices": [choice],
        "usage": _usage(shape.usage_style, reply.usage),
    }


def chat_chunks(reply: Reply, *, include_usage: bool) -> Iterator[dict[str, Any]]:
    """Every ``chat.completion.chunk`` of a stream, in order (no ``[DONE]``)."""
    shape, n = reply.shape, reply.turn.chunk_chars
    yield reply.chunk([_choice(shape, {**shape.delta_base, **shape.first_delta})])
    field_name = shape.reasoning_field
    if field_name:
        for piece in _pieces(reply.reasoning, n):
            delta: dict[str, Any] = {**shape.delta_base, field_name: piece}
            if shape.reasoning_details:
                delta["reasoning_details"] = [_detail(piece)]
            yield reply.chunk([_choice(shape, delta)])
    for piece in _pieces(reply.content, n):
        yield reply.chunk([_choice(shape, {**shape.delta_base, "content": piece})])
    if reply.tool_calls and shape.tool_turn_content:
        yield reply.chunk(
            [_choice(shape, {**shape.delta_base, "content": shape.tool_turn_content})]
        )
    for index, call in enumerate(reply.tool_calls):
        for fragment in _tool_call_deltas(reply, index, call):
            yield reply.chunk([_choice(shape, {**shape.delta_base, "tool_calls": [fragment]})])
    final = _choice(shape, dict(shape.delta_base), finish_reason=reply.finish_reason)
    usage = _usage(shape.usage_style, reply.usage)
    if shape.stream_usage == "final_chunk":
        yield reply.chunk([final], usage=usage)
        return
    yield reply.chunk([final])
    if include_usage or shape.stream_usage == "always":
        yield reply.chunk([], usage=usage)


def stream_error_event(reply: Reply, status: int, message: str) -> dict[str, Any]:
    """The ``data:`` payload a shape sends when generation fails mid-stream."""
    if reply.shape.error_style == "openrouter":
        # §6 OpenRouter: a normal chunk with a top-level error and finish_reason "error".
        choice = _choice(reply.shape, dict(reply.shape.delta_base), finish_reason="error")
        return reply.chunk([choice], error={"code": status, "message": message})
    body: dict[str, Any] = error_body(reply.shape.error_style, status, message)
    return body


def _choice(
    shape: Shape, delta: dict[str, Any], finish_reason: str | None = None
) -> dict[str, Any]:
    return {"index": 0, "delta": delta, **shape.choice_extras, "finish_reason": finish_reason}


def _tool_call_deltas(reply: Reply, index: int, call: ToolCallSpec) -> Iterator[dict[str, Any]]:
    """OpenAI tool-call deltas: id, type and name first, then argument fragments."""
    head = {"index": index, "id": reply.tool_call_id(index), "type": "function"}
    if reply.shape.whole_tool_calls:
        yield {**head, "function": {"name": call.name, "arguments": call.arguments_text}}
        return
    yield {**head, "function": {"name": call.name, "arguments": ""}}
    for piece in _pieces(call.arguments_text, reply.turn.chunk_chars):
        yield {"index": index, "function": {"arguments": piece}}


def _message(reply: Reply) -> dict[str, Any]:
    shape = reply.shape
    message: dict[str, Any] = {"role": "assistant"}
    _put(message, "content", reply.content, shape.empty_content)
    if shape.reasoning_field:
        _put(message, shape.reasoning_field, reply.reasoning, shape.empty_reasoning)
        if shape.reasoning_details and reply.reasoning:
            message["reasoning_details"] = [_detail(reply.reasoning)]
    calls = [
        {
            **({"index": i} if shape.whole_tool_calls else {}),
            "id": reply.tool_call_id(i),
            "type": "function",
            "function": {"name": c.name, "arguments": c.arguments_text},
        }
        for i, c in enumerate(reply.tool_calls)
    ]
    _put(message, "tool_calls", calls, shape.empty_tool_calls)
    return message


def _put(target: dict[str, Any], key: str, value: Any, when_empty: Empty) -> None:
    if value or when_empty == "keep":
        target[key] = value
    elif when_empty == "null":
        target[key] = None
    elif when_empty == "list":
        target[key] = []


def _detail(text: str) -> dict[str, Any]:
    # §6 OpenRouter reasoning_details entry for plain-text reasoning.
    return {"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}


def _usage(style: UsageStyle, usage: TurnUsage) -> dict[str, Any]:
    base: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    cached = {"cached_tokens": usage.cached_tokens}
    reasoning = {"reasoning_tokens": usage.reasoning_tokens}
    match style:
        case "deepseek":  # §1: prompt_tokens = cache hit + cache miss
            return {
                **base,
                "prompt_tokens_details": cached,
                "completion_tokens_details": reasoning,
                "prompt_cache_hit_tokens": usage.cached_tokens,
                "prompt_cache_miss_tokens": usage.prompt_tokens - usage.cached_tokens,
            }
        case "llamacpp":
            return {**base, "prompt_tokens_details": cached}
        case "openrouter":
            return {
                **base,
                "prompt_tokens_details": cached,
                "completion_tokens_details": reasoning,
                "cost": 0.0,
                "is_byok": False,
            }
        case "openai":
            return base


def _pieces(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


# ---------------------------------------------------------------- Ollama /api/chat


def ollama_chat_lines(reply: Reply) -> Iterator[dict[str, Any]]:
    """The NDJSON objects of a streamed ``/api/chat`` (§4), the last with ``done``."""
    n = reply.turn.chunk_chars
    for piece in _pieces(reply.turn.reasoning, n):
        yield _ollama_line(reply, {"content": "", "thinking": piece})
    for piece in _pieces(reply.turn.content, n):
        yield _ollama_line(reply, {"content": piece})
    if reply.turn.tool_calls:
        yield _ollama_line(reply, {"content": "", "tool_calls": _ollama_calls(reply)})
    yield _ollama_done(reply, {"content": ""})


def ollama_chat_response(reply: Reply) -> dict[str, Any]:
    """The single object of a non-streamed ``/api/chat`` (§4)."""
    message: dict[str, Any] = {"content": reply.turn.content}
    if reply.turn.reasoning:
        message["thinking"] = reply.turn.reasoning
    if reply.turn.tool_calls:
        message["tool_calls"] = _ollama_calls(reply)
    return _ollama_done(reply, message)


def ollama_timestamp() -> str:
    """Ollama's RFC 3339 ``created_at`` / ``modified_at`` format."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _ollama_line(reply: Reply, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": reply.model,
        "created_at": ollama_timestamp(),
        "message": {"role": "assistant", **message},
        "done": False,
    }


def _ollama_done(reply: Reply, message: dict[str, Any]) -> dict[str, Any]:
    reason = reply.turn.resolved_finish_reason
    return {
        **_ollama_line(reply, message),
        "done": True,
        # Ollama reports "stop" after tool calls too; "length" when cut off.
        "done_reason": "stop" if reason == "tool_calls" else reason,
        "total_duration": 1_000_000,
        "load_duration": 100_000,
        "prompt_eval_count": reply.usage.prompt_tokens,
        "prompt_eval_duration": 200_000,
        "eval_count": reply.usage.completion_tokens,
        "eval_duration": 700_000,
    }


def _ollama_calls(reply: Reply) -> list[dict[str, Any]]:
    """Native tool calls: arguments as JSON objects, never strings (§4)."""
    calls = []
    for index, call in enumerate(reply.turn.tool_calls):
        if isinstance(call.arguments, str):
            raise ValueError(
                f"ollama-native sends tool arguments as JSON objects; tool call {call.name!r} "
                "has raw text arguments, which this shape cannot carry (use a dict)"
            )
        calls.append(
            {
                "id": reply.tool_call_id(index),
                "function": {"index": index, "name": call.name, "arguments": call.arguments},
            }
        )
    return calls
