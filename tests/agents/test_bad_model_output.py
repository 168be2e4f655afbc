"""Hostile model output through ``Agent.astream``: a typed error or a handled case, never a crash.

Each case was seen escaping the agent as a raw ``AttributeError``,
``ValueError``, pydantic ``ValidationError``, ``httpx.DecodingError`` or
``UnicodeEncodeError``. The fake model sends the exact bytes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ponder.agents import Agent, FinalEvent
from ponder.backends import OpenAICompatibleBackend
from ponder.backends.errors import ProtocolError, ResponseTooLargeError
from ponder.backends.types import ChatRequest, UserMessage
from ponder.graphs import ErrorEvent, ToolResultEvent
from ponder.memory import MemoryStore
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

HUGE = "9" * 5_000  # Python refuses to convert ints over 4,300 digits


def echo(text: str) -> str:
    """Echo the text back, with a lone surrogate appended."""
    return text + "\ud800"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def sse(*events: dict[str, Any] | bytes) -> bytes:
    frames = [e if isinstance(e, bytes) else json.dumps(e).encode() for e in events]
    return b"".join(b"data: " + f + b"\n\n" for f in frames) + b"data: [DONE]\n\n"


def chunk(delta: dict[str, Any], finish: Any = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c", "object": "chat.completion.chunk", "model": "m", "choices": [choice]}


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[MemoryStore]:
    store = MemoryStore.from_url(f"sqlite:///{tmp_path / 'memory.db'}")
    yield store
    await store.aclose()


async def run(
    script: list[Turn], memory: MemoryStore, thread_id: str = "t", **backend: Any
) -> tuple[list[Any], BaseException | None, FakeModelServer]:
    with FakeModelServer(script, shape="deepseek") as server:
        async with OpenAICompatibleBackend(
            base_url=server.base_url,
            model="deepseek-v4-pro",
            api_key="sk-test",
            profile="deepseek",
            max_retries=0,
            **backend,
        ) as client:
            agent = Agent(client, [add, echo], memory=memory)
            events: list[Any] = []
            try:
                async for event in agent.astream("q", thread_id=thread_id):
                    events.append(event)
            except Exception as exc:
                return events, exc, server
            return events, None, server


@pytest.mark.parametrize(
    ("name", "body", "headers"),
    [
        ("finish_reason int", sse(chunk({"content": "hi"}), chunk({}, 7)), None),
        ("finish_reason object", sse(chunk({"content": "hi"}), chunk({}, {"x": 1})), None),
        ("garbage gzip", b"\x1f\x8b not gzip at all" * 8, {"content-encoding": "gzip"}),
        ("garbage deflate", b"not deflate at all" * 8, {"content-encoding": "deflate"}),
    ],
)
async def test_malformed_responses_end_in_a_typed_error(
    memory: MemoryStore, name: str, body: bytes, headers: dict[str, str] | None
) -> None:
    events, error, _ = await run([Turn(raw_body=body, raw_headers=headers)], memory)
    assert isinstance(error, ProtocolError), (name, repr(error))
    assert isinstance(events[-1], ErrorEvent) and events[-1].kind == "ProtocolError"
    assert await memory.turns("t") == []


async def test_huge_integers_in_a_body_and_in_tool_arguments_are_handled(
    memory: MemoryStore,
) -> None:
    in_body = b'{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}],"n":%s}' % (
        HUGE.encode()
    )
    events, error, _ = await run([Turn(raw_body=sse(in_body))], memory)
    assert error is None
    assert events[-1].result.answer_text == "x"
    bad_args = Turn(tool_calls=[ToolCallSpec("add", f'{{"a": {HUGE}, "b": 1}}')])
    events, error, server = await run([bad_args, Turn(content="told")], memory, thread_id="u")
    assert error is None and events[-1].result.answer_text == "told"
    (result,) = [e for e in events if isinstance(e, ToolResultEvent)]
    assert not result.ok and result.error_kind == "invalid_arguments"
    assert len(server.requests) == 2  # the model was told, and answered


async def test_lone_surrogates_in_answer_and_tool_output_are_saved_and_sent_on(
    memory: MemoryStore,
) -> None:
    answer = sse(
        b'{"choices":[{"index":0,"delta":{"content":"a\\ud800b"},"finish_reason":"stop"}]}'
    )
    events, error, _ = await run([Turn(raw_body=answer)], memory)
    assert error is None
    final = events[-1]
    assert isinstance(final, FinalEvent) and final.result.answer_text == "a\ufffdb"
    # the tool's output carries one too; the next request is built and the turn saved
    script = [Turn(tool_calls=[ToolCallSpec("echo", {"text": "x"})]), Turn(content="done")]
    events, error, server = await run(script, memory)
    assert error is None and events[-1].result.answer_text == "done"
    tool_message = [m for m in server.requests[-1].body["messages"] if m["role"] == "tool"]
    assert tool_message[-1]["content"] == "x\ufffd"
    stored = await memory.turns("t")
    assert [t.answer for t in stored] == ["a\ufffdb", "done"]
    assert stored[1].tool_calls[0].output_preview == "x\ufffd"
    # the history sent with the next turn holds the repaired answer
    assert "a\ufffdb" in json.dumps(server.requests[0].body, ensure_ascii=False)


async def test_reasoning_and_answer_are_bounded_per_call(memory: MemoryStore) -> None:
    thinker = Turn(reasoning="r" * 50_000, content="answer", chunk_chars=4_000)
    _, error, _ = await run([thinker], memory, max_reasoning_chars=10_000)
    assert isinstance(error, ResponseTooLargeError) and error.kind == "reasoning"
    assert "10,000 characters of reasoning" in str(error)
    talker = Turn(content="a" * 50_000, chunk_chars=4_000)
    _events, error, _ = await run([talker], memory, max_answer_chars=10_000)
    assert isinstance(error, ResponseTooLargeError) and error.kind == "answer"
    assert await memory.turns("t") == []
    # the non-streaming call is bounded too
    with FakeModelServer([thinker], shape="deepseek") as server:
        async with OpenAICompatibleBackend(
            base_url=server.base_url,
            model="deepseek-v4-pro",
            profile="deepseek",
            max_retries=0,
            max_reasoning_chars=10_000,
        ) as client:
            with pytest.raises(ResponseTooLargeError):
                await client.complete(ChatRequest(messages=[UserMessage(content="q")]))
