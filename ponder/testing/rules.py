"""Request rules the real providers enforce with an HTTP 400 (R1-PROTOCOL.md §1, §4).

Messages are the providers' own where they are known from public reports;
otherwise they are modelled on the docs and marked so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "JSON_WORD_MESSAGE",
    "R1_REASONING_INPUT_MESSAGE",
    "REASONING_PASS_BACK_MESSAGE",
    "TOOL_CHOICE_MESSAGE",
    "RuleViolation",
    "check_request",
]

REASONING_PASS_BACK_MESSAGE = (
    "The reasoning_content in the thinking mode must be passed back to the API."
)
"""§1 V4 thinking mode, verbatim from the docs and many client bug reports."""

R1_REASONING_INPUT_MESSAGE = (
    "The reasoning_content is an intermediate result for display purposes only and will not be "
    "included in the context for inference. Please remove the reasoning_content from your "
    "message to reduce network traffic."
)
"""§1 original R1 contract; the text clients quote from the live API's 400."""

TOOL_CHOICE_MESSAGE = "Thinking mode does not support this tool_choice"
"""DeepSeek V4 thinking mode with tool_choice "required" or a named function (client reports)."""

JSON_WORD_MESSAGE = (
    "Prompt must contain the word 'json' in some form to use 'response_format' of type "
    "'json_object'."
)
"""Modelled on OpenAI's wording; DeepSeek's JSON-mode guide states the same rule (§1)."""

_JSON_SCHEMA_MESSAGE = "This response_format type is unavailable now"  # DeepSeek, client reports
_OLLAMA_EFFORTS = ("high", "medium", "low", "none")
_DEEPSEEK_EFFORTS = ("low", "high", "max")  # the OpenAI form, api-docs guides/thinking_mode


@dataclass(frozen=True)
class RuleViolation:
    """Why a provider would reject a request."""

    message: str
    param: str | None = None
    status: int = 400


Rule = Callable[[Mapping[str, Any]], RuleViolation | None]


def check_request(shape: str, body: Mapping[str, Any]) -> RuleViolation | None:
    """The first rule of ``shape``'s provider that ``body`` breaks, if any."""
    for rule in (_messages_present, *_RULES.get(shape, ())):
        violation = rule(body)
        if violation is not None:
            return violation
    return None


def _messages_present(body: Mapping[str, Any]) -> RuleViolation | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return RuleViolation("messages: a non-empty list of messages is required", "messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        return RuleViolation("messages: every message must be an object with a role", "messages")
    return None


def _messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = body["messages"]
    return messages


def _deepseek_thinking(body: Mapping[str, Any]) -> bool:
    """V4 thinks by default; ``thinking: {type: disabled}`` or deepseek-chat turn it off."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "disabled":
        return False
    return body.get("model") != "deepseek-chat"


def _deepseek_pass_back(body: Mapping[str, Any]) -> RuleViolation | None:
    """§1 V4: an assistant message with tool calls must carry its reasoning_content."""
    if not _deepseek_thinking(body):
        return None
    for message in _messages(body):
        if (
            message["role"] == "assistant"
            and message.get("tool_calls")
            and message.get("reasoning_content") is None
        ):
            return RuleViolation(REASONING_PASS_BACK_MESSAGE)
    return None


def _r1_no_reasoning_input(body: Mapping[str, Any]) -> RuleViolation | None:
    """§1 original R1: reasoning_content in any input message is a 400."""
    if any("reasoning_content" in message for message in _messages(body)):
        return RuleViolation(R1_REASONING_INPUT_MESSAGE)
    return None


def _json_word(body: Mapping[str, Any]) -> RuleViolation | None:
    """§1 JSON Output: json_object needs the word "json" somewhere in the prompt."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_object":
        return None
    if any("json" in _text(message.get("content")).lower() for message in _messages(body)):
        return None
    return RuleViolation(JSON_WORD_MESSAGE, "messages")


def _deepseek_json_schema(body: Mapping[str, Any]) -> RuleViolation | None:
    """§1: DeepSeek has no json_schema response_format."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        return RuleViolation(_JSON_SCHEMA_MESSAGE, "response_format")
    return None


def _deepseek_logprobs(body: Mapping[str, Any]) -> RuleViolation | None:
    """§1: logprobs / top_logprobs return an error in thinking mode (wording modelled)."""
    if not _deepseek_thinking(body):
        return None
    for name in ("logprobs", "top_logprobs"):
        if body.get(name) not in (None, False):
            return RuleViolation(f"Thinking mode does not support {name}", name)
    return None


def _deepseek_tool_choice(body: Mapping[str, Any]) -> RuleViolation | None:
    """Thinking mode rejects forced tool choice: "required" or a named function."""
    choice = body.get("tool_choice")
    forced = choice == "required" or isinstance(choice, dict)
    if forced and _deepseek_thinking(body):
        return RuleViolation(TOOL_CHOICE_MESSAGE, "tool_choice")
    return None


def _deepseek_effort(body: Mapping[str, Any]) -> RuleViolation | None:
    """The OpenAI form takes ``reasoning_effort`` low/high/max (wording modelled)."""
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in _DEEPSEEK_EFFORTS:
        return RuleViolation(
            f"reasoning_effort must be one of {', '.join(_DEEPSEEK_EFFORTS)}", "reasoning_effort"
        )
    return None


def _ollama_effort(body: Mapping[str, Any]) -> RuleViolation | None:
    """§4 ollama openai.go: `reasoning.effort` wins over `reasoning_effort`; 4 values only."""
    reasoning = body.get("reasoning")
    effort = (
        reasoning.get("effort") if isinstance(reasoning, dict) else body.get("reasoning_effort")
    )
    if effort and effort not in _OLLAMA_EFFORTS:
        return RuleViolation(
            f'invalid reasoning value: \'{effort}\' (must be "high", "medium", "low", or "none")'
        )
    return None


def _llamacpp_content(body: Mapping[str, Any]) -> RuleViolation | None:
    """§5 llama.cpp common/chat.cpp: a message without a ``content`` key is refused.

    Builds differ on whether ``tool_calls`` excuse a missing ``content``; this
    follows the lenient ones and refuses only messages with neither.
    """
    messages = _messages(body)
    if all("content" in message or message.get("tool_calls") for message in messages):
        return None
    return RuleViolation(
        "Failed to parse messages: Expected 'content' "
        "(ref: https://github.com/ggml-org/llama.cpp/issues/8367); "
        f"messages = {json.dumps(messages, indent=2)}"
    )


def _llamacpp_samplers(body: Mapping[str, Any]) -> RuleViolation | None:
    """§5, seen on a real llama-server (issue 12): any JSON grammar with
    ``--reasoning-format none`` and a template that opens ``<think>``."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        return RuleViolation("Failed to initialize samplers", "response_format")
    return None


def _text(content: Any) -> str:
    """The text of a message's content: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


_RULES: dict[str, tuple[Rule, ...]] = {
    "deepseek": (
        _deepseek_pass_back,
        _deepseek_json_schema,
        _json_word,
        _deepseek_logprobs,
        _deepseek_tool_choice,
        _deepseek_effort,
    ),
    "deepseek-r1": (_r1_no_reasoning_input, _deepseek_json_schema, _json_word, _deepseek_logprobs),
    "ollama": (_ollama_effort,),
    "llamacpp": (_llamacpp_content,),
    "llamacpp-none": (_llamacpp_content,),
    "llamacpp-r1-none": (_llamacpp_content, _llamacpp_samplers),
}
