"""The reason–act loop end to end: real HTTP to a fake model, real tools, real memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from ponder.agents import Agent, FinalEvent
from ponder.backends import OpenAICompatibleBackend
from ponder.backends.errors import BrokenStreamError
from ponder.graphs import (
    AnswerDelta,
    Budgets,
    ReasoningEvent,
    RetryEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from ponder.memory import MemoryStore
from ponder.testing import FakeModelServer, ToolCallSpec, Turn


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first addend
        b: the second addend
    """
    return a + b


def backend_for(
    server: FakeModelServer, profile: str, model: str = "fake-r1"
) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(
        base_url=server.base_url,
        model=model,
        api_key="sk-test-key",
        profile=profile,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
    )


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[MemoryStore]:
    store = MemoryStore.from_url(f"sqlite:///{tmp_path / 'memory.db'}")
    yield store
    await store.aclose()


def assistant_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "assistant"]


async def test_tool_loop_streams_events_and_answers() -> None:
    script = [
        Turn(reasoning="I should add 2 and 3.", tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})]),
        Turn(reasoning="The tool said 5.", content="2 + 3 = 5."),
    ]
    with FakeModelServer(script, shape="vllm") as server:
        async with backend_for(server, "vllm") as backend:
            events = [event async for event in Agent(backend, [add]).astream("What is 2+3?")]
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "ReasoningEvent" and kinds[-1] == "FinalEvent"
    call = next(e for e in events if isinstance(e, ToolCallEvent))
    assert (call.name, call.arguments) == ("add", {"a": 2, "b": 3})
    tool_result = next(e for e in events if isinstance(e, ToolResultEvent))
    assert tool_result.ok and tool_result.output == "5"
    answer = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert answer == "2 + 3 = 5."
    final = events[-1]
    assert isinstance(final, FinalEvent)
    result = final.result
    assert result.ok and result.answer == "2 + 3 = 5." and result.steps == 2
    assert result.reasoning == "I should add 2 and 3.\n\nThe tool said 5."  # steps kept apart
    assert "reasoning" not in result.to_json_dict()
    assert "The tool said" not in json.dumps(result.to_json_dict())
    assert "The tool said" not in repr(result)
    # the tool result went back to the model as a tool message
    tool_message = server.requests[1].body["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "5"
    assert tool_message["tool_call_id"] == result.tool_calls[0].id


async def test_deepseek_v4_gets_reasoning_back_inside_the_turn_only(memory: MemoryStore) -> None:
    """V4 thinking mode answers 400 unless tool-call turns carry their reasoning."""
    script = [
        Turn(reasoning="R-one", tool_calls=[ToolCallSpec("add", {"a": 1, "b": 1})]),
        Turn(reasoning="R-two", content="It is 2."),
        Turn(reasoning="R-three", tool_calls=[ToolCallSpec("add", {"a": 2, "b": 2})]),
        Turn(reasoning="R-four", content="It is 4."),
    ]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek", model="deepseek-v4-pro") as backend:
            agent = Agent(backend, [add], memory=memory)
            first = await agent.arun("1+1?")
            second = await agent.arun("and 2+2?", thread_id=first.thread_id)
    assert (first.answer, second.answer) == ("It is 2.", "It is 4.")
    in_loop = assistant_messages(server.requests[1].body)
    assert in_loop[-1]["reasoning_content"] == "R-one"
    # the next user turn sees the collapsed history: no tool-call message, no reasoning
    next_turn = server.requests[2].body["messages"]
    assert [m["role"] for m in next_turn] == ["system", "user", "assistant", "user"]
    assert all(not m.get("tool_calls") for m in next_turn)
    assert "R-one" not in json.dumps(next_turn) and "R-two" not in json.dumps(next_turn)


async def test_legacy_r1_never_gets_reasoning_back(memory: MemoryStore) -> None:
    """The legacy contract answers 400 when reasoning_content is sent at all."""
    script = [
        Turn(reasoning="L-one", tool_calls=[ToolCallSpec("add", {"a": 4, "b": 5})]),
        Turn(reasoning="L-two", content="9"),
        Turn(reasoning="L-three", content="Still 9."),
    ]
    with FakeModelServer(script, shape="deepseek-r1") as server:
        async with backend_for(server, "deepseek-r1", model="deepseek-reasoner") as backend:
            agent = Agent(backend, [add], memory=memory)
            first = await agent.arun("4+5?")
            second = await agent.arun("Sure?", thread_id=first.thread_id)
    assert (first.answer, second.answer) == ("9", "Still 9.")
    for request in server.requests:
        assert "reasoning_content" not in json.dumps(request.body)


class Total(BaseModel):
    total: int
    explanation: str


async def test_json_mode_retries_with_the_validation_error() -> None:
    script = [
        Turn(reasoning="r", content='{"total": "five"}'),
        Turn(reasoning="r", content='```json\n{"total": 5, "explanation": "2+3"}\n```'),
    ]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek", model="deepseek-v4-pro") as backend:
            result = await Agent(backend, response_schema=Total).arun("2+3 as JSON")
    assert result.ok and result.answer == Total(total=5, explanation="2+3")
    first = server.requests[0].body
    assert first["response_format"] == {"type": "json_object"}
    assert "json" in json.dumps(first["messages"]).lower()
    correction = server.requests[1].body["messages"][-1]
    assert correction["role"] == "user" and "total" in correction["content"]


async def test_json_mode_gives_up_after_the_retry_budget() -> None:
    script = [Turn(content="not json")] * 3
    with FakeModelServer(script, shape="vllm") as server:
        async with backend_for(server, "vllm") as backend:
            agent = Agent(backend, response_schema=Total, budgets=Budgets(max_json_retries=2))
            result = await agent.arun("answer in JSON")
    assert result.outcome == "invalid_json" and result.answer is None
    assert len(server.requests) == 3


async def test_step_budget_ends_with_one_call_without_tools() -> None:
    looping = Turn(reasoning="more", tool_calls=[ToolCallSpec("add", {"a": 1, "b": 1})])
    script = [looping, looping, Turn(reasoning="ok", content="Best so far: 2.")]
    with FakeModelServer(script, shape="vllm") as server:
        async with backend_for(server, "vllm") as backend:
            result = await Agent(backend, [add], budgets=Budgets(max_steps=2)).arun("loop")
    assert result.outcome == "max_steps" and result.answer == "Best so far: 2."
    assert result.steps == 3 and len(result.tool_calls) == 2
    last = server.requests[-1].body
    assert last.get("tool_choice") == "none" or "tools" not in last
    assert "budget" in last["messages"][-1]["content"]


async def test_broken_arguments_and_unknown_tool_become_tool_messages() -> None:
    script = [
        Turn(
            reasoning="try",
            tool_calls=[ToolCallSpec("add", '{"a": 1, "b": '), ToolCallSpec("multiply", {"a": 2})],
        ),
        Turn(reasoning="fix", tool_calls=[ToolCallSpec("add", {"a": "x", "b": 1})]),
        Turn(reasoning="done", content="gave up politely"),
    ]
    with FakeModelServer(script, shape="sglang") as server:
        async with backend_for(server, "sglang") as backend:
            result = await Agent(backend, [add]).arun("break things")
    assert result.ok and result.answer == "gave up politely"
    kinds = [record.error_kind for record in result.tool_calls]
    assert kinds == ["bad_json", "unknown_tool", "invalid_arguments"]
    tool_messages = [m for m in server.requests[1].body["messages"] if m["role"] == "tool"]
    assert "JSON" in tool_messages[0]["content"] and "add" in tool_messages[1]["content"]


async def test_rate_limit_and_server_errors_are_retried_with_events() -> None:
    script = [
        Turn(status=429, retry_after=0.01),
        Turn(status=503),
        Turn(reasoning="fine", content="ok"),
    ]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek", model="deepseek-v4-pro") as backend:
            events = [e async for e in Agent(backend).astream("hi")]
    retries = [e for e in events if isinstance(e, RetryEvent)]
    assert len(retries) == 2
    final = events[-1]
    assert isinstance(final, FinalEvent) and final.result.answer == "ok"


async def test_dropped_stream_after_output_is_a_clear_error(memory: MemoryStore) -> None:
    script = [Turn(reasoning="thinking hard", content="partial answer " * 20, drop_after_chunks=6)]
    with FakeModelServer(script, shape="vllm") as server:
        async with backend_for(server, "vllm") as backend:
            agent = Agent(backend, memory=memory)
            with pytest.raises(BrokenStreamError):
                await agent.arun("hi", thread_id="t-dropped")
    assert await memory.turns("t-dropped") == []


async def test_token_budget_stops_the_loop() -> None:
    looping = Turn(
        reasoning="more",
        tool_calls=[ToolCallSpec("add", {"a": 1, "b": 1})],
        usage={"prompt_tokens": 600, "completion_tokens": 500},
    )
    with FakeModelServer([looping, looping], shape="vllm") as server:
        async with backend_for(server, "vllm") as backend:
            result = await Agent(backend, [add], budgets=Budgets(max_tokens=1000)).arun("go")
    assert result.outcome == "max_tokens" and len(server.requests) == 1


async def test_wall_time_budget_cancels_a_slow_model() -> None:
    script = [Turn(reasoning="slow " * 50, content="late", delay_s=0.05)]
    with FakeModelServer(script, shape="vllm") as server:
        async with backend_for(server, "vllm") as backend:
            result = await Agent(backend, budgets=Budgets(wall_time_s=0.3)).arun("hurry")
    assert result.outcome == "wall_time" and result.answer is None


async def test_skipped_thinking_is_reported() -> None:
    with FakeModelServer([Turn(reasoning="", content="42")], shape="llamacpp-none") as server:
        async with backend_for(server, "llamacpp") as backend:
            result = await Agent(backend).arun("answer")
    assert result.answer == "42" and result.thinking_skipped


async def test_reasoning_is_streamed_before_the_answer() -> None:
    with FakeModelServer(
        [Turn(reasoning="think first", content="then answer")], shape="raw"
    ) as server:
        async with backend_for(server, "openai-compatible") as backend:
            events = [e async for e in Agent(backend).astream("q")]
    reasoning_at = next(i for i, e in enumerate(events) if isinstance(e, ReasoningEvent))
    answer_at = next(i for i, e in enumerate(events) if isinstance(e, AnswerDelta))
    assert reasoning_at < answer_at
    assert "".join(e.text for e in events if isinstance(e, AnswerDelta)) == "then answer"


async def test_a_generic_client_adapts_to_deepseek_v4_rules() -> None:
    """Unknown host: the 400s for reasoning pass-back and json_schema correct the profile."""
    script = [
        Turn(reasoning="V4-thought", tool_calls=[ToolCallSpec("add", {"a": 2, "b": 2})]),
        Turn(reasoning="done", content='{"total": 4, "explanation": "2+2"}'),
    ]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "openai-compatible") as backend:
            result = await Agent(backend, [add], response_schema=Total).arun("2+2?")
            assert backend.profile.replay == "tool_turns"
            assert backend.profile.json_modes == frozenset({"json_object"})
    assert result.ok and result.answer == Total(total=4, explanation="2+2")
    statuses = [r.body.get("response_format", {}).get("type") for r in server.requests]
    assert statuses == ["json_schema", "json_object", "json_object", "json_object"]
    accepted = assistant_messages(server.requests[-1].body)
    assert accepted[-1]["reasoning_content"] == "V4-thought"
