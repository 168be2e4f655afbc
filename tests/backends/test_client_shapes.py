"""Every provider shape, streamed and not: the same normalised Completion."""

from __future__ import annotations

import pytest
from backend_helpers import ask, backend_for, collect, without_ids

from ponder.backends import (
    Completed,
    ContentDelta,
    ReasoningDelta,
    ToolCallDelta,
    ToolSpec,
    UsageUpdate,
)
from ponder.testing import SHAPE_NAMES, FakeModelServer, ToolCallSpec, Turn
from ponder.testing.shapes import raw_tool_text

REASONING = "The user asks 2+2. Add them: 4."
CONTENT = "It is 4."
CALLS = [ToolCallSpec("calc", {"expr": "2+2"}), ToolCallSpec("note", {"text": "done"})]
TOOLS = (ToolSpec(name="calc"), ToolSpec(name="note"))


@pytest.mark.parametrize("shape", SHAPE_NAMES)
async def test_stream_and_complete_agree(shape: str) -> None:
    turn = Turn(reasoning=REASONING, content=CONTENT, tool_calls=CALLS, chunk_chars=5)
    with FakeModelServer([turn, turn], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            whole = await backend.complete(ask(tools=TOOLS))
            events = await collect(backend, ask(tools=TOOLS))

    assert whole.reasoning == REASONING
    assert whole.content == CONTENT
    assert [(c.name, c.parsed) for c in whole.tool_calls] == [
        ("calc", {"expr": "2+2"}),
        ("note", {"text": "done"}),
    ]
    assert all(c.id for c in whole.tool_calls)
    assert whole.finish_reason == "tool_calls"
    assert not whole.thinking_skipped
    assert whole.usage is not None and whole.usage.prompt_tokens > 0
    assert whole.usage.completion_tokens > 0

    final = events[-1]
    assert isinstance(final, Completed)
    assert without_ids(final.completion) == without_ids(whole)
    streamed_reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    streamed_content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    assert streamed_reasoning == REASONING
    assert streamed_content.strip() == CONTENT
    # reasoning streams before the answer, and the tool-call ids announced are the final ones
    kinds = [e.kind for e in events if e.kind in ("reasoning", "content")]
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning")
    announced = [e.id for e in events if isinstance(e, ToolCallDelta) and e.id]
    assert announced == [c.id for c in final.completion.tool_calls]
    assert any(isinstance(e, UsageUpdate) for e in events)


@pytest.mark.parametrize("shape", ["deepseek", "vllm", "raw", "distill", "ollama-native"])
async def test_plain_answer_without_tools(shape: str) -> None:
    turn = Turn(reasoning="Short thought.", content="Plain answer.")
    with FakeModelServer([turn, turn], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            whole = await backend.complete(ask())
            streamed = (await collect(backend, ask()))[-1]
    assert isinstance(streamed, Completed)
    for completion in (whole, streamed.completion):
        assert completion.content == "Plain answer."
        assert completion.reasoning == "Short thought."
        assert completion.finish_reason == "stop"
        assert completion.tool_calls == ()


async def test_usage_details_are_mapped_from_deepseek() -> None:
    turn = Turn(reasoning="r" * 40, content="ok", usage={"cached_tokens": 5, "prompt_tokens": 9})
    with FakeModelServer([turn], shape="deepseek") as srv:
        async with backend_for(srv, "deepseek") as backend:
            completion = await backend.complete(ask())
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 9
    assert completion.usage.cached_tokens == 5
    assert completion.usage.reasoning_tokens == 10


@pytest.mark.parametrize("shape", ["deepseek", "raw"])
async def test_skipped_thinking_is_flagged(shape: str) -> None:
    turn = Turn(reasoning="", content="Straight to it.")
    with FakeModelServer([turn], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            completion = await backend.complete(ask())
    assert completion.thinking_skipped
    assert completion.content == "Straight to it."


async def test_raw_tool_tokens_are_not_read_from_reasoning() -> None:
    fake_call = raw_tool_text([ToolCallSpec("x", {})])
    turn = Turn(reasoning=f"Maybe I call {fake_call} later.", content="No call needed.")
    with FakeModelServer([turn], shape="raw") as srv:
        async with backend_for(srv, "raw") as backend:
            completion = await backend.complete(ask())
    assert completion.tool_calls == ()
    assert completion.finish_reason == "stop"
    assert "tool▁calls▁begin" in completion.reasoning
