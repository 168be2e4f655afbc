"""Shared helpers for the backend tests: backends pointed at a FakeModelServer."""

from __future__ import annotations

from typing import Any

from ponder.backends import (
    ChatRequest,
    Completion,
    OllamaNativeBackend,
    OpenAICompatibleBackend,
    StreamEvent,
    UserMessage,
)
from ponder.testing import FakeModelServer

PROFILE_FOR_SHAPE = {
    "deepseek": "deepseek",
    "deepseek-r1": "deepseek-r1",
    "vllm": "vllm",
    "sglang": "sglang",
    "ollama": "ollama",
    "llamacpp": "llamacpp",
    "llamacpp-none": "llamacpp",
    "llamacpp-r1-none": "llamacpp",
    "openrouter": "openrouter",
    "raw": "openai-compatible",
    "distill": "openai-compatible",
}


def backend_for(srv: FakeModelServer, shape: str, **kwargs: Any) -> OpenAICompatibleBackend:
    """A backend for ``shape``'s fake server, with fast retries."""
    kwargs.setdefault("model", "deepseek-r1-distill-qwen-7b" if shape == "distill" else "fake-r1")
    kwargs.setdefault("backoff_initial_s", 0.01)
    kwargs.setdefault("backoff_max_s", 0.02)
    if shape == "ollama-native":
        return OllamaNativeBackend(base_url=srv.base_url, **kwargs)
    kwargs.setdefault("profile", PROFILE_FOR_SHAPE[shape])
    return OpenAICompatibleBackend(base_url=srv.base_url, **kwargs)


def ask(text: str = "What is 2+2?", **kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=(UserMessage(content=text),), **kwargs)


async def collect(backend: OpenAICompatibleBackend, request: ChatRequest) -> list[StreamEvent]:
    return [event async for event in backend.stream(request)]


def without_ids(completion: Completion) -> dict[str, Any]:
    """A completion as a dict, tool-call ids (random per response) removed."""
    data = completion.model_dump()
    for call in data["tool_calls"]:
        call.pop("id")
    return data
