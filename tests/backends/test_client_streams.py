"""Streams over real loopback HTTP: framing quirks, broken streams, budget exhaustion."""

from __future__ import annotations

import pytest
from backend_helpers import ask, backend_for, collect

from ponder.backends import (
    BrokenStreamError,
    Completed,
    ContentDelta,
    ReasoningBudgetExhausted,
    ReasoningDelta,
    ServerError,
    UsageUpdate,
)
from ponder.testing import FakeModelServer, Turn

TURN = Turn(reasoning="Thinking it through.", content="The answer is 4.", chunk_chars=3)


@pytest.mark.parametrize("shape", ["deepseek", "openrouter", "distill"])
async def test_split_events_and_keepalives_do_not_change_the_result(shape: str) -> None:
    quirky = Turn(
        reasoning=TURN.reasoning,
        content=TURN.content,
        chunk_chars=8,
        split_events=True,
        keepalive_comments=True,
    )
    with FakeModelServer([TURN, quirky], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            plain = (await collect(backend, ask()))[-1]
            split = (await collect(backend, ask()))[-1]
    assert isinstance(plain, Completed) and isinstance(split, Completed)
    assert split.completion == plain.completion
    assert split.completion.content == "The answer is 4."


async def test_usage_only_last_chunk_becomes_a_usage_update() -> None:
    with FakeModelServer([TURN], shape="vllm") as srv:
        async with backend_for(srv, "vllm") as backend:
            events = await collect(backend, ask())
    usage_events = [e for e in events if isinstance(e, UsageUpdate)]
    assert len(usage_events) == 1
    assert isinstance(events[-2], UsageUpdate)  # after every delta, before Completed
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.completion.usage == usage_events[0].usage
    assert final.completion.finish_reason == "stop"


async def test_dropped_connection_after_deltas_is_a_broken_stream_not_a_short_answer() -> None:
    turn = Turn(reasoning="Long thought here.", content="Partial answer", drop_after_chunks=4)
    with FakeModelServer([turn, TURN], shape="deepseek") as srv:
        async with backend_for(srv, "deepseek") as backend:
            seen = []
            with pytest.raises(BrokenStreamError) as info:
                async for event in backend.stream(ask()):
                    seen.append(event)
    assert any(isinstance(e, ReasoningDelta) for e in seen)
    assert not any(isinstance(e, Completed) for e in seen)
    assert info.value.partial_chars > 0
    assert len(srv.requests) == 1  # output reached the caller: never retried


async def test_stream_ending_without_done_is_broken() -> None:
    # drop after the last chunk: a clean close but no [DONE]
    turn = Turn(content="ok", drop_after_chunks=10**6)
    with FakeModelServer([turn], shape="vllm") as srv:
        async with backend_for(srv, "vllm", max_retries=0) as backend:
            with pytest.raises(BrokenStreamError):
                await collect(backend, ask())


@pytest.mark.parametrize("shape", ["deepseek", "vllm", "openrouter"])
async def test_error_object_mid_stream_raises_the_typed_error(shape: str) -> None:
    turn = Turn(reasoning="Starting to think", content="x", error_after_chunks=3)
    with FakeModelServer([turn], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            with pytest.raises(ServerError, match="fake model error"):
                await collect(backend, ask())
    assert len(srv.requests) == 1


async def test_ollama_native_error_line_is_a_broken_stream() -> None:
    turn = Turn(reasoning="Starting to think", content="x", error_after_chunks=2)
    with FakeModelServer([turn], shape="ollama-native") as srv:
        async with backend_for(srv, "ollama-native") as backend:
            with pytest.raises(BrokenStreamError, match="fake model error"):
                await collect(backend, ask())


@pytest.mark.parametrize("shape", ["deepseek", "raw", "ollama-native"])
async def test_reasoning_only_length_finish_is_budget_exhaustion(shape: str) -> None:
    turn = Turn(reasoning="Still thinking and thinking", finish_reason="length")
    with FakeModelServer([turn, turn], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            with pytest.raises(ReasoningBudgetExhausted, match="max_tokens"):
                await backend.complete(ask())
            seen = []
            with pytest.raises(ReasoningBudgetExhausted):
                async for event in backend.stream(ask()):
                    seen.append(event)
    assert "".join(e.text for e in seen if isinstance(e, ReasoningDelta)).startswith("Still")
    assert not any(isinstance(e, ContentDelta | Completed) for e in seen)


async def test_length_finish_with_an_answer_is_returned() -> None:
    turn = Turn(reasoning="Thought.", content="Half an ans", finish_reason="length")
    with FakeModelServer([turn], shape="deepseek") as srv:
        async with backend_for(srv, "deepseek") as backend:
            completion = await backend.complete(ask())
    assert completion.finish_reason == "length"
    assert completion.content == "Half an ans"


async def test_closing_a_stream_early_releases_the_connection() -> None:
    with FakeModelServer([TURN, TURN], shape="vllm") as srv:
        async with backend_for(srv, "vllm") as backend:
            stream = backend.stream(ask())
            async for _ in stream:
                break
            await stream.aclose()  # type: ignore[attr-defined]
            final = (await collect(backend, ask()))[-1]
    assert isinstance(final, Completed)
