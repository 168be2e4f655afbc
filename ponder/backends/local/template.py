"""Render a model's own chat template for an in-process engine.

The template (Jinja, as shipped in a GGUF header or a Hugging Face
tokenizer) is rendered in a sandbox with the request's messages and tools.
Two R1 gaps are filled here rather than in each engine:

* a template that ignores ``tools`` (R1 and its distills) gets a tool
  section in R1's own call format appended to the system prompt;
* a reasoning model whose template does not open the thought (the
  R1-Distill template ends at ``<｜Assistant｜>``) gets ``<think>\\n``
  after the generation prompt, so every answer starts with a thought.

Reasoning from earlier turns is never rendered (R1's replay contract).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ponder.backends.types import (
    AssistantMessage,
    ChatRequest,
    Message,
    NamedToolChoice,
    SystemMessage,
    ToolMessage,
    ToolSpec,
)
from ponder.backends.wire import THINK_PREFILL, json_instruction

__all__ = ["ChatTemplate", "RenderedPrompt", "Thinking", "r1_tool_section"]

Thinking = Literal["auto", "always", "never"]
"""When to open the thought: ``auto`` for templates that know ``<think>``."""

_OPEN, _CLOSE = "<think>", "</think>"
_CALL_EXAMPLE = (
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>FUNCTION_NAME\n"
    '```json\n{"argument": "value"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>'
)


@dataclass(frozen=True)
class RenderedPrompt:
    """The prompt text an engine tokenizes, and how its output begins."""

    text: str
    starts_in_thought: bool
    """The prompt ends inside an opened ``<think>``: output is reasoning first."""
    tool_section_added: bool
    """The template ignored ``tools``; ponder added an R1-format tool section."""


class ChatTemplate:
    """A model's Jinja chat template, rendered the way Hugging Face does it.

    ``thinking="auto"`` forces ``<think>\\n`` only for templates that mention
    ``</think>`` (reasoning models); ``always``/``never`` decide it outright,
    and ``ChatRequest.force_thinking`` forces it per request.
    """

    def __init__(
        self,
        source: str,
        *,
        bos_token: str = "",
        eos_token: str = "",
        thinking: Thinking = "auto",
    ) -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = _strftime_now
        try:
            self._template = env.from_string(source)
        except TemplateError as exc:
            raise ValueError(f"the model's chat template does not parse: {exc}") from None
        self._bos = bos_token
        self._eos = eos_token
        self.reasoning_model = thinking == "always" or (
            thinking == "auto" and (_CLOSE in source or _OPEN in source)
        )

    def render(self, request: ChatRequest) -> RenderedPrompt:
        """The prompt for ``request``: messages, tools, JSON instruction, opened thought."""
        messages = list(request.messages)
        prefix = ""
        if messages and isinstance(messages[-1], AssistantMessage) and messages[-1].prefix:
            prefix = messages.pop().content or ""
        tools = () if request.tool_choice == "none" else request.tools
        instructions = _instructions(request, tools)
        if instructions:
            messages = _with_system_text(messages, "\n\n".join(instructions))
        plain = [_to_dict(m) for m in messages]
        tool_dicts = [_tool_dict(t) for t in tools]
        without_prompt = self._render(plain, tool_dicts, add_generation_prompt=False)
        text = self._render(plain, tool_dicts, add_generation_prompt=True)
        section_added = False
        if tools and text == self._render(plain, [], add_generation_prompt=True):
            section_added = True
            plain = [_to_dict(m) for m in _with_system_text(messages, r1_tool_section(tools))]
            without_prompt = self._render(plain, [], add_generation_prompt=False)
            text = self._render(plain, [], add_generation_prompt=True)
        tail = text[len(without_prompt) :] if text.startswith(without_prompt) else text
        tail += prefix
        text += prefix
        opened = _opens_thought(tail)
        if not opened and not prefix and (self.reasoning_model or request.force_thinking):
            text += THINK_PREFILL
            opened = True
        return RenderedPrompt(text=text, starts_in_thought=opened, tool_section_added=section_added)

    def _render(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        add_generation_prompt: bool,
    ) -> str:
        try:
            return self._template.render(
                messages=messages,
                tools=tools or None,
                add_generation_prompt=add_generation_prompt,
                bos_token=self._bos,
                eos_token=self._eos,
            )
        except TemplateError as exc:
            raise ValueError(f"the model's chat template failed to render: {exc}") from None


def r1_tool_section(tools: Sequence[ToolSpec]) -> str:
    """The tool list and call format in R1's own tokens, for the system prompt."""
    lines = [
        "## Tools",
        "",
        "You can call the functions below. To call one, reply with exactly:",
        _CALL_EXAMPLE,
        "Put several calls in one block, one <｜tool▁call▁begin｜>…<｜tool▁call▁end｜> each. "
        "The arguments must be valid JSON for the function's schema.",
        "",
        "### Functions",
    ]
    for tool in tools:
        described = f": {tool.description}" if tool.description else ""
        lines += [f"- `{tool.name}`{described}", "```json", _tojson(tool.parameters), "```"]
    return "\n".join(lines)


def _instructions(request: ChatRequest, tools: Sequence[ToolSpec]) -> list[str]:
    out: list[str] = []
    choice = request.tool_choice
    if tools and isinstance(choice, NamedToolChoice):
        out.append(f"You must call the function `{choice.name}` before answering.")
    elif tools and choice == "required":
        out.append("You must call one of the functions before answering.")
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        out.append(json_instruction(fmt.json_schema if fmt.type == "json_schema" else None))
    return out


def _with_system_text(messages: list[Message], text: str) -> list[Message]:
    for i, message in enumerate(messages):
        if isinstance(message, SystemMessage):
            merged = f"{message.content}\n\n{text}" if message.content else text
            return [*messages[:i], SystemMessage(content=merged), *messages[i + 1 :]]
    return [SystemMessage(content=text), *messages]


def _to_dict(message: Message) -> dict[str, Any]:
    """A Hugging Face style message dict; reasoning is never included."""
    if isinstance(message, AssistantMessage):
        if not message.tool_calls:
            return {"role": "assistant", "content": message.content or ""}
        # R1's template renders tool calls only when content is None; arguments are JSON text.
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments or "{}"},
                }
                for call in message.tool_calls
            ],
        }
    if isinstance(message, ToolMessage):
        item = {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
        if message.name:
            item["name"] = message.name
        return item
    return {"role": message.role, "content": message.content}


def _tool_dict(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def _opens_thought(tail: str) -> bool:
    start = tail.rfind(_OPEN)
    return start >= 0 and _CLOSE not in tail[start:]


def _tojson(value: Any, indent: int | None = None, **_: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _raise(message: str) -> None:
    raise TemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)
