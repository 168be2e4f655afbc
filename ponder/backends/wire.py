"""The OpenAI-compatible wire: request bodies out, normalised deltas in.

Everything here is a pure function of a :class:`ChatRequest`, a
:class:`ProviderProfile` and the provider's JSON, so the HTTP client stays a
thin loop and every provider difference is read from the profile.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ponder.backends._trim import Trimmer
from ponder.backends.dsml_tools import DsmlToolCallParser, encode_dsml_tool_calls
from ponder.backends.errors import (
    AuthenticationError,
    BackendError,
    BadRequestError,
    BrokenStreamError,
    ContextLengthError,
    ProtocolError,
    RateLimitError,
    ReasoningBudgetExhausted,
    ServerError,
)
from ponder.backends.markers import MarkerGuard
from ponder.backends.profiles import ProviderProfile, ReplayPolicy
from ponder.backends.r1_tools import R1ToolCallParser, RawToolCall
from ponder.backends.retry import parse_retry_after
from ponder.backends.think import Channel, ThinkSplitter
from ponder.backends.types import (
    AssistantMessage,
    ChatRequest,
    Completion,
    ContentDelta,
    FinishReason,
    Message,
    NamedToolChoice,
    ReasoningDelta,
    ResponseFormat,
    StreamEvent,
    SystemMessage,
    ToolCall,
    ToolCallDelta,
    ToolMessage,
    ToolSpec,
    Usage,
    UsageUpdate,
    UserMessage,
)

__all__ = [
    "THINK_PREFILL",
    "Delta",
    "OnceWarner",
    "ResponseAssembler",
    "ToolFragment",
    "WireRequest",
    "beta_url",
    "build_chat_request",
    "check_reasoning_budget",
    "delta_from_chunk",
    "delta_from_response",
    "dsml_tools_prompt",
    "error_from_payload",
    "error_from_response",
    "json_instruction",
    "map_usage",
    "replay_value",
    "resolve_model",
    "serialize_messages",
]

logger = logging.getLogger("ponder.backends")

THINK_PREFILL = "<think>\n"
_MAX_MESSAGE_CHARS = 500


class OnceWarner:
    """Emits each distinct warning once per owner (one backend instance)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def log(self, key: str, message: str) -> None:
        """A ``logging`` warning on the ``ponder.backends`` logger, once per key."""
        if key not in self._seen:
            self._seen.add(key)
            logger.warning(message)

    def warn(self, key: str, message: str) -> None:
        """A :func:`warnings.warn` ``UserWarning``, once per key."""
        if key not in self._seen:
            self._seen.add(key)
            warnings.warn(message, UserWarning, stacklevel=3)


# ------------------------------------------------------------- request side


@dataclass(frozen=True)
class WireRequest:
    """What to send: the base URL (``/beta`` for DeepSeek extras) and the JSON body."""

    base_url: str
    body: dict[str, Any]
    model: str
    starts_in_thought: bool
    """The output continues an opened ``<think>``: parse it as reasoning first."""


def resolve_model(model: str, profile: ProviderProfile, warner: OnceWarner) -> tuple[str, bool]:
    """Map a retired model name to its successor; returns ``(model, thinking)``."""
    successor = profile.retired_models.get(model)
    if successor is None:
        return model, True
    new_model, thinking = successor
    mode = "thinking" if thinking else "non-thinking"
    warner.log(
        f"retired:{model}",
        f"model {model!r} is retired on {profile.name}; using {new_model!r} ({mode} mode)",
    )
    return new_model, thinking


def beta_url(base_url: str) -> str:
    """DeepSeek's beta endpoint for a base URL: ``…/v1`` or ``…`` becomes ``…/beta``."""
    root = base_url.rstrip("/")
    if root.endswith("/beta"):
        return root
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    return f"{root}/beta"


def build_chat_request(
    request: ChatRequest,
    profile: ProviderProfile,
    *,
    model: str,
    base_url: str,
    stream: bool,
    warner: OnceWarner,
) -> WireRequest:
    """The body of ``POST /chat/completions`` for ``request`` under ``profile``."""
    model, thinking = resolve_model(request.model or model, profile, warner)
    effort, thinking = _effort(request.reasoning_effort, profile, warner, thinking=thinking)
    messages = list(request.messages)
    use_beta = False

    fmt = _response_format(request.response_format, profile)
    if fmt.instruction is not None and not (fmt.unless_json_mentioned and _mentions_json(messages)):
        messages = _add_instruction(messages, fmt.instruction)

    in_prompt = profile.tool_prompt == "dsml_v4"
    if in_prompt and request.tools:
        messages = _add_instruction(messages, dsml_tools_prompt(request.tools))
    body: dict[str, Any] = {
        "model": model,
        "messages": serialize_messages(messages, profile, profile.replay),
    }
    if request.tools and not in_prompt:
        strict = any(tool.strict for tool in request.tools)
        if strict and not profile.strict_tools:
            warner.log("strict", f"{profile.name} has no strict tool mode; sending plain tools")
        use_beta = strict and profile.strict_tools
        tools = request.tools
        named = request.tool_choice
        if isinstance(named, NamedToolChoice) and profile.named_tool_choice == "required_one":
            tools = tuple(tool for tool in tools if tool.name == named.name) or tools
            request = request.model_copy(update={"tool_choice": "required"})
        body["tools"] = [_tool(tool, strict=use_beta) for tool in tools]
        choice = _tool_choice(request, profile, warner)
        if choice is not None:
            body["tool_choice"] = choice
        if profile.parallel_tool_calls_field:
            body["parallel_tool_calls"] = True
    if fmt.wire is not None:
        body["response_format"] = fmt.wire

    ignored = profile.ignored_params | (profile.thinking_ignored_params if thinking else set())
    _sampling(body, request, profile, warner, ignored)
    if stream:
        body["stream"] = True
        if profile.stream_usage:
            body["stream_options"] = {"include_usage": True}
    _thinking_switch(body, profile, thinking=thinking, effort=effort)

    # Only the profile (the template opens <think>) or our own prefill says the
    # output starts mid-thought; a model's name is no evidence (issue 12.1).
    starts_in_thought = profile.template_opens_think
    prefixed = bool(messages) and isinstance(messages[-1], AssistantMessage) and messages[-1].prefix
    if request.force_thinking and not prefixed:
        if profile.prefix_style == "none":
            warner.warn(
                "force_thinking",
                f"{profile.name} accepts no assistant prefill; force_thinking has no effect",
            )
        else:
            body["messages"].append({"role": "assistant", "content": THINK_PREFILL})
            prefixed = starts_in_thought = True
    if prefixed:
        use_beta = _apply_prefix(body, profile) or use_beta

    _merge(body, profile.extra_body)
    _merge(body, request.extra_body)
    for name in sorted(profile.rejected_params & body.keys()):
        warner.log(f"rejected:{name}", f"{profile.name} rejects {name!r}; not sending it")
        del body[name]
    for name in sorted(ignored & body.keys()):
        del body[name]
    if use_beta:
        base_url = beta_url(base_url)
    return WireRequest(
        base_url=base_url, body=body, model=model, starts_in_thought=starts_in_thought
    )


def serialize_messages(
    messages: Sequence[Message], profile: ProviderProfile, replay: ReplayPolicy
) -> list[dict[str, Any]]:
    """OpenAI-style message dicts, with reasoning replayed per ``replay``.

    Under ``tool_prompt="dsml_v4"`` tool calls become DSML text in the
    assistant's content and tool results ``<tool_result>`` blocks in a user turn.
    """
    if profile.tool_prompt == "dsml_v4":
        return _dsml_v4_messages(messages)
    last_user = max((i for i, m in enumerate(messages) if isinstance(m, UserMessage)), default=-1)
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if isinstance(message, AssistantMessage):
            item: dict[str, Any] = {"role": "assistant", "content": message.content or ""}
            if message.tool_calls:
                item["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in message.tool_calls
                ]
            if not message.prefix:
                value = replay_value(message, profile, replay, current_turn=i > last_user)
                if value is not None:
                    item[profile.replay_field] = value
            out.append(item)
        elif isinstance(message, ToolMessage):
            out.append(
                {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
            )
        else:
            out.append({"role": message.role, "content": message.content})
    return out


def dsml_tools_prompt(tools: Sequence[ToolSpec]) -> str:
    """The system-prompt section that offers ``tools`` to a raw DeepSeek V4 model."""
    schemas = "\n".join(
        json.dumps(
            {"name": t.name, "description": t.description, "parameters": t.parameters},
            ensure_ascii=False,
        )
        for t in tools
    )
    return (
        "## Tools\n\nYou can call these tools by writing a <｜DSML｜tool_calls> block:\n\n"
        '<｜DSML｜tool_calls>\n<｜DSML｜invoke name="$TOOL_NAME">\n'
        '<｜DSML｜parameter name="$PARAMETER_NAME" string="true|false">$VALUE'
        "</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>\n\n"
        'Use string="true" for string values as they are; JSON with string="false" for '
        "everything else. Think inside <think>…</think> first, then call tools or answer.\n\n"
        f"### Available Tool Schemas\n\n{schemas}"
    )


def _dsml_v4_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    results: list[str] = []

    def close_results(question: str | None = None) -> None:
        if results or question is not None:
            parts = [f"<tool_result>{text}</tool_result>" for text in results]
            out.append(
                {"role": "user", "content": "\n\n".join([*parts, *filter(None, [question])])}
            )
            results.clear()

    for message in messages:
        if isinstance(message, ToolMessage):
            results.append(message.content)
            continue
        if isinstance(message, UserMessage):
            close_results(message.content)
            continue
        close_results()
        if isinstance(message, AssistantMessage):
            content = message.content or ""
            if message.tool_calls:
                calls = [(call.name, call.arguments) for call in message.tool_calls]
                block = encode_dsml_tool_calls(calls, block="tool_calls")
                content = f"{content}\n\n{block}" if content else block
            out.append({"role": "assistant", "content": content})
        else:
            out.append({"role": message.role, "content": message.content})
    close_results()
    return out


def replay_value(
    message: AssistantMessage,
    profile: ProviderProfile,
    replay: ReplayPolicy,
    *,
    current_turn: bool,
) -> Any:
    """The reasoning value to send on ``message``, or ``None`` to send no field."""
    if replay == "never":
        return None
    wanted = current_turn if replay == "current_turn" else bool(message.tool_calls)
    if profile.replay_field == "reasoning_details":
        if not wanted:
            return None
        if message.reasoning_details:
            return [dict(detail) for detail in message.reasoning_details]
        if message.reasoning:
            return [{"type": "reasoning.text", "text": message.reasoning}]
        return None
    if wanted and message.reasoning:
        return message.reasoning
    return "" if profile.replay_placeholder else None


def _tool(tool: ToolSpec, *, strict: bool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    if strict and tool.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _tool_choice(
    request: ChatRequest, profile: ProviderProfile, warner: OnceWarner
) -> str | dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None:
        return None
    mode = "named" if isinstance(choice, NamedToolChoice) else choice
    if mode not in profile.tool_choice_modes:
        warner.log(
            f"tool_choice:{mode}",
            f"{profile.name} does not support tool_choice={mode!r}; not sending it",
        )
        return None
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "function": {"name": choice.name}}
    return choice


@dataclass(frozen=True)
class _Format:
    wire: dict[str, Any] | None = None
    instruction: str | None = None
    unless_json_mentioned: bool = True
    """Skip the instruction when a message already says "json"."""


def json_instruction(schema: Mapping[str, Any] | None) -> str:
    """The prompt line that asks for JSON (and names the schema, if any)."""
    text = "Respond with a single JSON object and nothing else."
    if schema is not None:
        text += " It must conform to this JSON Schema:\n" + json.dumps(schema, sort_keys=True)
    return text


def _response_format(fmt: ResponseFormat | None, profile: ProviderProfile) -> _Format:
    if fmt is None or fmt.type == "text":
        return _Format()
    schema = fmt.json_schema if fmt.type == "json_schema" else None
    if schema is not None and "json_schema" in profile.json_modes:
        if profile.schema_shape == "llamacpp":
            return _Format(wire={"type": "json_object", "schema": schema})
        return _Format(
            wire={"type": "json_schema", "json_schema": {"name": fmt.name, "schema": schema}}
        )
    wire = {"type": "json_object"} if "json_object" in profile.json_modes else None
    if schema is not None:  # the schema could not be sent: the model must at least read it
        return _Format(wire=wire, instruction=json_instruction(schema), unless_json_mentioned=False)
    if wire is None or profile.json_needs_word:
        return _Format(wire=wire, instruction=json_instruction(None))
    return _Format(wire=wire)


def _mentions_json(messages: Sequence[Message]) -> bool:
    return any(
        "json" in (m.content or "").lower() for m in messages if not isinstance(m, AssistantMessage)
    )


def _add_instruction(messages: list[Message], instruction: str) -> list[Message]:
    for i, message in enumerate(messages):
        if isinstance(message, SystemMessage):
            text = f"{message.content}\n\n{instruction}" if message.content else instruction
            return [*messages[:i], SystemMessage(content=text), *messages[i + 1 :]]
    return [SystemMessage(content=instruction), *messages]


def _effort(
    effort: str | None, profile: ProviderProfile, warner: OnceWarner, *, thinking: bool
) -> tuple[str | None, bool]:
    """The ``reasoning_effort`` to send and whether thinking stays on."""
    if effort is None or not profile.effort_aliases:
        return effort, thinking
    if effort not in profile.effort_aliases:
        known = ", ".join(profile.effort_aliases)
        warner.log(
            f"effort:{effort}",
            f"{profile.name} has no reasoning_effort {effort!r} (known: {known}); not sending it",
        )
        return None, thinking
    mapped = profile.effort_aliases[effort]
    return mapped, thinking and mapped is not None


def _sampling(
    body: dict[str, Any],
    request: ChatRequest,
    profile: ProviderProfile,
    warner: OnceWarner,
    ignored: frozenset[str] | set[str],
) -> None:
    skip = ignored | profile.rejected_params
    values: dict[str, Any] = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
        "stop": list(request.stop) or None,
        "seed": request.seed,
    }
    for name, value in values.items():
        if value is not None and name not in skip:
            body[name] = value
    temperature = body.get("temperature")
    if temperature is not None and not 0.5 <= temperature <= 0.7:
        warner.warn(
            "temperature",
            f"temperature {temperature} is outside 0.5-0.7; R1-class models may repeat "
            "themselves or lose coherence (DeepSeek recommends 0.6)",
        )


def _thinking_switch(
    body: dict[str, Any], profile: ProviderProfile, *, thinking: bool, effort: str | None
) -> None:
    match profile.thinking_switch:
        case "deepseek":
            body["thinking"] = {"type": "enabled" if thinking else "disabled"}
            if thinking and effort:
                body["reasoning_effort"] = effort
        case "chat_template_kwargs":
            body["chat_template_kwargs"] = {"thinking": True}
        case "openrouter":
            reasoning: dict[str, Any] = {"enabled": True}
            if effort:
                reasoning["effort"] = effort
            body["reasoning"] = reasoning
        case "ollama" | "none":
            if effort:
                body["reasoning_effort"] = effort


def _apply_prefix(body: dict[str, Any], profile: ProviderProfile) -> bool:
    """Mark the trailing assistant message as a prefill; True if ``/beta`` is needed."""
    match profile.prefix_style:
        case "deepseek":
            body["messages"][-1]["prefix"] = True
            return True
        case "continue_final_message":
            body["add_generation_prompt"] = False
            body["continue_final_message"] = True
        case "trailing_assistant" | "none":
            pass
    return False


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        current = into.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged = dict(current)
            _merge(merged, value)
            into[key] = merged
        else:
            into[key] = value


# ------------------------------------------------------------ response side


@dataclass(frozen=True)
class ToolFragment:
    """A piece of one tool call; fragments sharing ``index`` form one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class Delta:
    """One normalised piece of a response: a stream chunk or a whole message."""

    reasoning: str = ""
    reasoning_details: tuple[dict[str, Any], ...] = ()
    content: str = ""
    tool_calls: tuple[ToolFragment, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None


def delta_from_chunk(chunk: Mapping[str, Any], profile: ProviderProfile) -> Delta:
    """Normalise one streamed ``chat.completion.chunk``."""
    return _delta(chunk, profile, part_key="delta")


def delta_from_response(data: Mapping[str, Any], profile: ProviderProfile) -> Delta:
    """Normalise a whole non-streamed ``chat.completion``."""
    if not isinstance(data.get("choices"), list) or not data["choices"]:
        raise _protocol("the response has no choices")
    return _delta(data, profile, part_key="message")


def _delta(data: Mapping[str, Any], profile: ProviderProfile, *, part_key: str) -> Delta:
    choices = data.get("choices") or []
    if not isinstance(choices, list):
        raise _protocol("'choices' is not a list")
    choice = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
    part = choice.get(part_key) if choice is not None else None
    if part is not None and not isinstance(part, dict):
        raise _protocol(f"'{part_key}' is not an object")
    part = part or {}
    details = part.get("reasoning_details")
    details_t = (
        tuple(d for d in details if isinstance(d, dict)) if isinstance(details, list) else ()
    )
    content = part.get("content")
    usage = data.get("usage")
    model = data.get("model")
    finish = choice.get("finish_reason") if choice is not None else None
    if finish is not None and not isinstance(finish, str):
        raise _protocol(f"'finish_reason' is {type(finish).__name__}, not a string")
    return Delta(
        reasoning=_reasoning_text(part, profile, details_t),
        reasoning_details=details_t,
        content=content if isinstance(content, str) else "",
        tool_calls=_fragments(part.get("tool_calls")),
        finish_reason=finish,
        usage=map_usage(usage) if isinstance(usage, dict) else None,
        model=model if isinstance(model, str) else None,
    )


def _reasoning_text(
    part: Mapping[str, Any], profile: ProviderProfile, details: tuple[dict[str, Any], ...]
) -> str:
    for name in profile.reasoning_fields:
        value = part.get(name)
        if isinstance(value, str) and value:
            return value
    if details and ("reasoning_details" in profile.reasoning_fields or "reasoning" not in part):
        return "".join(d["text"] for d in details if isinstance(d.get("text"), str))
    return ""


def _fragments(raw: Any) -> tuple[ToolFragment, ...]:
    if not isinstance(raw, list):
        return ()
    out: list[ToolFragment] = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _protocol("a tool call is not an object")
        function = item.get("function") or {}
        if not isinstance(function, dict):
            raise _protocol("a tool call's 'function' is not an object")
        arguments = function.get("arguments")
        if isinstance(arguments, dict | list):
            arguments = json.dumps(arguments, ensure_ascii=False)
        index = item.get("index")
        out.append(
            ToolFragment(
                index=index if isinstance(index, int) else position,
                id=item.get("id") if isinstance(item.get("id"), str) else None,
                name=function.get("name") if isinstance(function.get("name"), str) else None,
                arguments=arguments if isinstance(arguments, str) else "",
            )
        )
    return tuple(out)


def map_usage(raw: Mapping[str, Any]) -> Usage:
    """OpenAI/DeepSeek usage JSON as :class:`Usage` (reasoning and cached tokens too)."""

    def _int(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    completion_details = raw.get("completion_tokens_details")
    prompt_details = raw.get("prompt_tokens_details")
    reasoning = (
        _int(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else None
    )
    cached = _int(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else None
    if cached is None:
        cached = _int(raw.get("prompt_cache_hit_tokens"))
    return Usage(
        prompt_tokens=_int(raw.get("prompt_tokens")) or 0,
        completion_tokens=_int(raw.get("completion_tokens")) or 0,
        reasoning_tokens=reasoning,
        cached_tokens=cached,
    )


_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
}


class ResponseAssembler:
    """Turns normalised deltas into stream events and, at the end, a :class:`Completion`.

    Reasoning comes from the profile's fields or from inline ``<think>``
    (split by :class:`ThinkSplitter`, decided by what the server sends: once
    a reasoning field has arrived, content is the answer). Raw tool-call
    markup (R1 tokens, DSML) is parsed from content only, never from
    reasoning. Every content piece then passes one rule before it is shown
    (outer whitespace trimmed, reasoning markers made inert by
    :class:`MarkerGuard`), so the streamed answer, the returned answer and
    the stored answer are the same string.
    """

    def __init__(
        self,
        profile: ProviderProfile,
        *,
        starts_in_thought: bool,
        model: str,
        prompt_known: bool = False,
    ) -> None:
        """``prompt_known``: the caller rendered the prompt itself (an in-process
        engine), so ``starts_in_thought=False`` is a fact: text without an
        opening tag is the answer from its first character."""
        self._profile = profile
        self._starts_in_thought = starts_in_thought
        self._answer_first = prompt_known and not starts_in_thought
        self._model = model
        self._splitter: ThinkSplitter | None = None
        self._tool_parsers: tuple[R1ToolCallParser | DsmlToolCallParser, ...] = (
            (R1ToolCallParser(), DsmlToolCallParser()) if profile.raw_tool_tokens else ()
        )
        self._field_reasoning: list[str] = []
        self._inline_reasoning: list[str] = []
        self._content: list[str] = []
        self._trim = Trimmer()
        self._guard = MarkerGuard()
        self._held_marker = ""
        self._details: list[dict[str, Any]] = []
        self._calls: dict[int, _CallBuffer] = {}
        self._raw_slots: dict[tuple[int, int], int] = {}
        self._raw_tool_calls = False
        self._finish: str | None = None
        self._usage: Usage | None = None

    def add(self, delta: Delta) -> list[StreamEvent]:
        """Events for one delta, in arrival order."""
        events: list[StreamEvent] = []
        if delta.model:
            self._model = delta.model
        if delta.reasoning_details:
            self._merge_details(delta.reasoning_details)
        if delta.reasoning:
            self._field_reasoning.append(delta.reasoning)
            events.append(ReasoningDelta(text=delta.reasoning))
        if delta.content:
            self._content_text(delta.content, events)
        if delta.tool_calls and self._held_marker.strip() in self._profile.leaked_tool_markers:
            self._held_marker = ""  # template text announcing this call: not the answer
        for fragment in delta.tool_calls:
            events.append(self._fragment(fragment))
        if delta.finish_reason:
            self._finish = delta.finish_reason
        if delta.usage is not None:
            self._usage = delta.usage
            events.append(UsageUpdate(usage=delta.usage))
        return events

    def finish(self) -> list[StreamEvent]:
        """Flush the parsers' held-back text: the events of the stream's end."""
        events: list[StreamEvent] = []
        if self._splitter is not None:
            cut_off = _FINISH.get(self._finish_name()) == "length"
            self._split(self._splitter.flush(thought_cut_off=cut_off), events)
        for i in range(len(self._tool_parsers)):
            self._parsed(i, self._tool_parsers[i].flush(), events)
        if self._calls and self._held_marker.strip() in self._profile.leaked_tool_markers:
            self._held_marker = ""
        self._show("", events, final=True)
        return events

    def completion(self) -> Completion:
        """The finished turn (call after :meth:`finish`)."""
        reasoning = "".join(self._field_reasoning) + "".join(self._inline_reasoning)
        calls = tuple(self._calls[i].to_call() for i in sorted(self._calls))
        return Completion(
            content="".join(self._content),
            reasoning=reasoning,
            reasoning_details=tuple(self._details) or None,
            tool_calls=calls,
            finish_reason=self._finish_reason(calls),
            usage=self._usage,
            model=self._model,
            thinking_skipped=not reasoning.strip(),
        )

    # -- internals

    def _finish_name(self) -> str:
        return self._finish.lower() if isinstance(self._finish, str) else ""

    def _content_text(self, text: str, events: list[StreamEvent]) -> None:
        if not self._profile.inline_think:
            self._to_tool_parsers(0, text, events)
            return
        if self._splitter is None:
            self._splitter = ThinkSplitter(
                starts_in_thought=self._starts_in_thought,
                reasoning_elsewhere=bool(self._field_reasoning) or self._answer_first,
            )
        self._split(self._splitter.feed(text), events)

    def _split(self, pieces: list[tuple[Channel, str]], events: list[StreamEvent]) -> None:
        if self._splitter is not None and self._splitter.recovered:
            # Provisional reasoning was the answer: it is shown again, as the answer.
            self._inline_reasoning.clear()
        for channel, text in pieces:
            if channel == "reasoning":
                self._inline_reasoning.append(text)
                events.append(ReasoningDelta(text=text))
            else:
                self._to_tool_parsers(0, text, events)

    def _to_tool_parsers(self, first: int, text: str, events: list[StreamEvent]) -> None:
        if first >= len(self._tool_parsers):
            self._show(text, events)
            return
        self._parsed(first, self._tool_parsers[first].feed(text), events)

    def _parsed(
        self, parser: int, items: Sequence[str | RawToolCall], events: list[StreamEvent]
    ) -> None:
        for item in items:
            if isinstance(item, str):
                self._to_tool_parsers(parser + 1, item, events)
                continue
            self._raw_tool_calls = True
            key = (parser, item.index)
            slot = self._raw_slots.setdefault(key, max(self._calls, default=-1) + 1)
            fragment = ToolFragment(index=slot, name=item.name, arguments=item.arguments)
            events.append(self._fragment(fragment))

    def _show(self, text: str, events: list[StreamEvent], *, final: bool = False) -> None:
        """The one rule every answer piece passes before anyone sees it."""
        markers = self._profile.leaked_tool_markers
        if markers:
            text, self._held_marker = self._held_marker + text, ""
            if not final and _maybe_marker(text, markers):
                self._held_marker = text
                return
        safe = self._guard.feed(text) + (self._guard.flush() if final else "")
        piece = self._trim.push(safe) if safe else ""
        if piece:
            self._content.append(piece)
            events.append(ContentDelta(text=piece))

    def _fragment(self, fragment: ToolFragment) -> ToolCallDelta:
        buffer = self._calls.get(fragment.index)
        if buffer is None:
            call_id = fragment.id or f"call_{uuid.uuid4().hex[:24]}"
            buffer = self._calls[fragment.index] = _CallBuffer(id=call_id)
            first = True
        else:
            first = False
        if fragment.name and not buffer.name:
            buffer.name = fragment.name
        buffer.arguments.append(fragment.arguments)
        return ToolCallDelta(
            index=fragment.index,
            id=buffer.id if first else None,
            name=fragment.name,
            arguments=fragment.arguments,
        )

    def _merge_details(self, details: tuple[dict[str, Any], ...]) -> None:
        for detail in details:
            index = detail.get("index")
            previous = next(
                (
                    d
                    for d in self._details
                    if index is not None
                    and d.get("index") == index
                    and d.get("type") == detail.get("type")
                ),
                None,
            )
            if previous is None:
                self._details.append(dict(detail))
                continue
            for key, value in detail.items():
                if key in ("text", "summary", "data") and isinstance(value, str):
                    previous[key] = str(previous.get(key) or "") + value
                elif value is not None:
                    previous[key] = value

    def _finish_reason(self, calls: tuple[ToolCall, ...]) -> FinishReason:
        reason = _FINISH.get(self._finish_name(), "unknown")
        if calls and (self._raw_tool_calls or reason in ("stop", "unknown")):
            return "tool_calls"
        return reason


def _maybe_marker(text: str, markers: tuple[str, ...]) -> bool:
    """``text`` is, or may still become, one of ``markers`` (outer whitespace aside)."""
    core = text.strip()
    return bool(core) and any(marker.startswith(core) for marker in markers)


@dataclass
class _CallBuffer:
    id: str
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def to_call(self) -> ToolCall:
        return ToolCall(id=self.id, name=self.name, arguments="".join(self.arguments))


# ------------------------------------------------------------------ errors

_CONTEXT = re.compile(
    r"context[ _]length|maximum context|context window|context size|too many tokens"
    r"|maximum model length|prompt is too long",
    re.IGNORECASE,
)


def error_from_response(
    status: int, body: bytes, headers: Mapping[str, str], *, provider: str
) -> BackendError:
    """A typed error for an HTTP error response (any provider's error JSON)."""
    text = body.decode("utf-8", errors="replace")
    try:
        parsed: Any = json.loads(text)
    except (ValueError, RecursionError):
        parsed = text
    message = f"HTTP {status} from {provider}: {_provider_message(parsed) or 'no details'}"
    message = message[:_MAX_MESSAGE_CHARS]
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status in (401, 403):
        return AuthenticationError(message, status_code=status)
    if status == 429:
        return RateLimitError(message, status_code=status, retry_after=retry_after)
    if status >= 500:
        return ServerError(message, status_code=status, retry_after=retry_after)
    if status in (400, 413, 422) and _CONTEXT.search(message):
        return ContextLengthError(message, status_code=status)
    return BadRequestError(message, status_code=status)


def error_from_payload(error: Any, *, provider: str) -> BackendError:
    """A typed error for an ``{"error": …}`` object received mid-stream.

    A numeric ``code`` or a known ``type``/``code`` name gives the status;
    anything else is a :class:`BrokenStreamError`.
    """
    status = None
    if isinstance(error, dict):
        code = error.get("code")
        if isinstance(code, int) and 400 <= code <= 599:
            status = code
        else:
            names = (error.get("type"), code)
            status = next((_ERROR_TYPES[n] for n in names if n in _ERROR_TYPES), None)
    if status is not None:
        body = json.dumps({"error": error}).encode()
        return error_from_response(status, body, {}, provider=provider)
    message = _provider_message({"error": error}) or "unknown error"
    text = f"{provider} reported an error mid-stream: {message}"
    return BrokenStreamError(text[:_MAX_MESSAGE_CHARS])


_ERROR_TYPES: dict[Any, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "server_error": 500,
    "api_error": 500,
    "InternalServerError": 500,
    "overloaded_error": 503,
    "ServiceUnavailableError": 503,
}


def _provider_message(parsed: Any) -> str:
    if isinstance(parsed, str):
        return parsed.strip()
    if not isinstance(parsed, dict):
        return json.dumps(parsed)[:_MAX_MESSAGE_CHARS]
    error = parsed.get("error")
    if isinstance(error, str):
        return error
    source = error if isinstance(error, dict) else parsed
    for key in ("message", "msg", "detail"):
        value = source.get(key)
        if isinstance(value, str) and value:
            return value
    return json.dumps(parsed)[:_MAX_MESSAGE_CHARS]


def _protocol(message: str) -> ProtocolError:
    return ProtocolError(f"unexpected response shape: {message}")


def check_reasoning_budget(completion: Completion, *, advice: str) -> None:
    """Raise :class:`ReasoningBudgetExhausted` for a turn that only thought.

    ``finish_reason == "length"`` with reasoning and no answer or tool call
    means the token budget went on thinking; ``advice`` says what to change.
    """
    if (
        completion.finish_reason == "length"
        and completion.reasoning.strip()
        and not completion.content.strip()
        and not completion.tool_calls
    ):
        raise ReasoningBudgetExhausted(
            f"the model used its whole max_tokens budget on reasoning and gave no answer; {advice}",
            reasoning_chars=len(completion.reasoning),
        )
