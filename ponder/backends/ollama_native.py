"""``OllamaNativeBackend``: the same protocol over Ollama's own ``/api/chat``.

The native API streams NDJSON (one JSON object a line, the last with
``"done": true``), takes ``think: true`` to separate reasoning into
``message.thinking``, ``format`` for JSON output and sampling under
``options``, and sends tool-call arguments as JSON objects (R1-PROTOCOL §4).
"""

from __future__ import annotations

import json
from typing import Any

from ponder.backends.client import OpenAICompatibleBackend
from ponder.backends.errors import BrokenStreamError, ProtocolError
from ponder.backends.profiles import ProviderProfile, ollama
from ponder.backends.types import AssistantMessage, ChatRequest, ToolMessage, Usage
from ponder.backends.wire import (
    Delta,
    ToolFragment,
    WireRequest,
    replay_value,
    resolve_model,
)

__all__ = ["OllamaNativeBackend", "ollama_native_profile"]


def ollama_native_profile() -> ProviderProfile:
    """Ollama's ``/api/chat``: reasoning in ``message.thinking``, replayed as ``thinking``."""
    return ollama().with_overrides(
        name="ollama-native",
        default_base_url="http://localhost:11434",
        reasoning_fields=("thinking",),
        replay_field="thinking",
    )


class OllamaNativeBackend(OpenAICompatibleBackend):
    """A :class:`~ponder.backends.protocol.ChatBackend` over Ollama's ``/api/chat``.

    Takes the same arguments as :class:`OpenAICompatibleBackend`; a base URL
    ending in ``/v1`` is trimmed to the server root.
    """

    _endpoint = "/api/chat"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        profile: ProviderProfile | str | None = None,
        **kwargs: Any,
    ) -> None:
        if base_url is not None and base_url.rstrip("/").endswith("/v1"):
            base_url = base_url.rstrip("/")[: -len("/v1")]
        chosen = ollama_native_profile() if profile is None or profile == "auto" else profile
        super().__init__(base_url=base_url, profile=chosen, **kwargs)

    async def list_models(self) -> list[str]:
        """The local model tags (``GET /api/tags``)."""
        data = await self._get_json(f"{self.base_url}/api/tags")
        items = data.get("models") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProtocolError("unexpected response shape: /api/tags has no 'models' list")
        return [m["name"] for m in items if isinstance(m, dict) and isinstance(m.get("name"), str)]

    def _prepare(self, request: ChatRequest, *, stream: bool) -> WireRequest:
        profile = self.profile
        model, thinking = resolve_model(request.model or self.model, profile, self._warner)
        body: dict[str, Any] = {
            "model": model,
            "messages": self._messages(request),
            "stream": stream,
            "think": thinking,
        }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in request.tools
            ]
            if request.tool_choice is not None:
                self._warner.log("tool_choice", "Ollama has no tool_choice; not sending it")
        fmt = request.response_format
        if fmt is not None and fmt.type != "text":
            schema = fmt.json_schema if fmt.type == "json_schema" else None
            body["format"] = schema if schema is not None else "json"
        options = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            "num_predict": request.max_tokens,
            "seed": request.seed,
            "stop": list(request.stop) or None,
        }
        options = {k: v for k, v in options.items() if v is not None}
        if options:
            body["options"] = options
        if request.force_thinking:
            self._warner.warn(
                "force_thinking",
                "Ollama's /api/chat takes no prefill; force_thinking has no effect",
            )
        body.update(profile.extra_body)
        body.update(request.extra_body)
        return WireRequest(
            base_url=self.base_url,
            body=body,
            model=model,
            starts_in_thought=profile.template_opens_think or "distill" in model.lower(),
        )

    def _messages(self, request: ChatRequest) -> list[dict[str, Any]]:
        profile = self.profile
        messages = request.messages
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
        out: list[dict[str, Any]] = []
        for i, message in enumerate(messages):
            if isinstance(message, AssistantMessage):
                item: dict[str, Any] = {"role": "assistant", "content": message.content or ""}
                if message.tool_calls:
                    item["tool_calls"] = [
                        {
                            "function": {
                                "name": call.name,
                                "arguments": call.parsed if call.parse_error is None else {},
                            }
                        }
                        for call in message.tool_calls
                    ]
                value = replay_value(message, profile, profile.replay, current_turn=i > last_user)
                if value:
                    item[profile.replay_field] = value
                out.append(item)
            elif isinstance(message, ToolMessage):
                item = {"role": "tool", "content": message.content}
                if message.name:
                    item["tool_name"] = message.name
                out.append(item)
            else:
                out.append({"role": message.role, "content": message.content})
        return out

    def _frames(self) -> _NDJSONFrames:
        return _NDJSONFrames(self.profile)

    def _parse_response(self, data: dict[str, Any]) -> Delta:
        if isinstance(data.get("error"), str):
            raise ProtocolError(f"{self.profile.name} reported an error: {data['error']}")
        return _delta(data)


class _NDJSONFrames:
    """NDJSON lines to deltas; the stream must end with ``"done": true``."""

    def __init__(self, profile: ProviderProfile) -> None:
        self._provider = profile.name
        self._buffer = b""
        self._calls = 0
        self.done = False

    def feed(self, chunk: bytes) -> list[Delta]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return self._deltas(lines)

    def close(self) -> list[Delta]:
        lines, self._buffer = [self._buffer], b""
        deltas = self._deltas(lines)
        if not self.done:
            raise BrokenStreamError("the stream ended before done: the answer is incomplete")
        return deltas

    def _deltas(self, lines: list[bytes]) -> list[Delta]:
        deltas: list[Delta] = []
        for line in lines:
            if not line.strip() or self.done:
                continue
            try:
                data = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
                raise ProtocolError(f"stream line is not valid JSON: {exc}") from None
            if not isinstance(data, dict):
                raise ProtocolError("stream line is not a JSON object")
            if data.get("error") is not None:
                raise BrokenStreamError(
                    f"{self._provider} reported an error mid-stream: {data['error']}"[:500]
                )
            delta = _delta(data, first_index=self._calls)
            self._calls += len(delta.tool_calls)
            self.done = data.get("done") is True
            deltas.append(delta)
        return deltas


def _delta(data: dict[str, Any], *, first_index: int = 0) -> Delta:
    message = data.get("message") or {}
    if not isinstance(message, dict):
        raise ProtocolError("unexpected response shape: 'message' is not an object")
    fragments = []
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise ProtocolError("unexpected response shape: 'tool_calls' is not a list")
    for offset, call in enumerate(raw_calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise ProtocolError("unexpected response shape: a tool call has no 'function'")
        arguments = function.get("arguments")
        fragments.append(
            ToolFragment(
                index=first_index + offset,
                id=call.get("id") if isinstance(call.get("id"), str) else None,
                name=function.get("name") if isinstance(function.get("name"), str) else None,
                arguments=arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
            )
        )
    done = data.get("done") is True
    usage = None
    if done and ("prompt_eval_count" in data or "eval_count" in data):
        usage = Usage(
            prompt_tokens=_count(data.get("prompt_eval_count")),
            completion_tokens=_count(data.get("eval_count")),
        )
    thinking, content = message.get("thinking"), message.get("content")
    model = data.get("model")
    return Delta(
        reasoning=thinking if isinstance(thinking, str) else "",
        content=content if isinstance(content, str) else "",
        tool_calls=tuple(fragments),
        finish_reason=(data.get("done_reason") or "stop") if done else None,
        usage=usage,
        model=model if isinstance(model, str) else None,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
