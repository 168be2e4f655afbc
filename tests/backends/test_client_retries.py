"""Retries, typed HTTP errors and reasoning-replay drift recovery, over loopback."""

from __future__ import annotations

import logging
import socket

import pytest
from backend_helpers import ask, backend_for, collect

from ponder.backends import (
    AuthenticationError,
    BadRequestError,
    ChatRequest,
    Completed,
    ConnectionFailedError,
    ContextLengthError,
    OpenAICompatibleBackend,
    RateLimitError,
    RetryNotice,
    ServerError,
    ToolMessage,
    ToolSpec,
    UserMessage,
)
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

OK = Turn(reasoning="Fine.", content="Done.")


async def test_429_with_retry_after_then_success() -> None:
    script = [Turn(status=429, retry_after=0.05, error_message="Rate limit reached"), OK]
    with FakeModelServer(script, shape="deepseek") as srv:
        async with backend_for(srv, "deepseek") as backend:
            events = await collect(backend, ask())
    notices = [e for e in events if isinstance(e, RetryNotice)]
    assert [(n.attempt, n.delay_s) for n in notices] == [(1, 0.05)]
    assert "429" in notices[0].reason and "Rate limit reached" in notices[0].reason
    assert isinstance(events[-1], Completed)
    assert events[-1].completion.content == "Done."


async def test_503_twice_then_success_streams_and_completes() -> None:
    script = [Turn(status=503), Turn(status=503), OK, Turn(status=502), OK]
    with FakeModelServer(script, shape="vllm") as srv:
        async with backend_for(srv, "vllm") as backend:
            events = await collect(backend, ask())
            completion = await backend.complete(ask())
    assert [e.attempt for e in events if isinstance(e, RetryNotice)] == [1, 2]
    assert all(0 <= e.delay_s <= 0.02 for e in events if isinstance(e, RetryNotice))
    assert isinstance(events[-1], Completed)
    assert completion.content == "Done."
    assert len(srv.requests) == 5


async def test_retries_are_bounded() -> None:
    with FakeModelServer([Turn(status=500)] * 3, shape="sglang") as srv:
        async with backend_for(srv, "sglang", max_retries=2) as backend:
            with pytest.raises(ServerError, match="HTTP 500 from sglang: fake model error"):
                await backend.complete(ask())
    assert len(srv.requests) == 3


async def test_401_is_not_retried_and_never_shows_the_key() -> None:
    key = "sk-wrong-key-abcdef"
    with FakeModelServer([OK], shape="deepseek", api_key="sk-right") as srv:
        async with backend_for(srv, "deepseek", api_key=key) as backend:
            with pytest.raises(AuthenticationError) as info:
                await collect(backend, ask())
    assert len(srv.requests) == 1
    assert info.value.status_code == 401
    assert key not in str(info.value)
    assert "401" in str(info.value)


async def test_stream_dropped_before_any_delta_is_retried() -> None:
    script = [Turn(content="lost", drop_after_chunks=0), OK]
    with FakeModelServer(script, shape="deepseek") as srv:
        async with backend_for(srv, "deepseek") as backend:
            events = await collect(backend, ask())
    assert [e.attempt for e in events if isinstance(e, RetryNotice)] == [1]
    assert isinstance(events[-1], Completed) and events[-1].completion.content == "Done."


async def test_connection_refused_is_retried_then_typed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAICompatibleBackend(
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        profile="vllm",
        max_retries=2,
        backoff_initial_s=0.01,
        backoff_max_s=0.01,
    )
    async with backend:
        events: list[object] = []
        with pytest.raises(ConnectionFailedError, match="could not reach"):
            async for event in backend.stream(ask()):
                events.append(event)
    assert [e.attempt for e in events if isinstance(e, RetryNotice)] == [1, 2]


async def test_context_length_and_bad_request_are_typed_and_not_retried() -> None:
    too_long = Turn(
        status=400,
        error_message="This model's maximum context length is 32768 tokens. However, you "
        "requested 40000 tokens.",
    )
    with FakeModelServer([too_long, Turn(status=422)], shape="vllm") as srv:
        async with backend_for(srv, "vllm") as backend:
            with pytest.raises(ContextLengthError, match="maximum context length"):
                await backend.complete(ask())
            with pytest.raises(BadRequestError, match="422"):
                await backend.complete(ask())
    assert len(srv.requests) == 2


async def test_rate_limit_error_carries_retry_after_when_out_of_retries() -> None:
    with FakeModelServer([Turn(status=429, retry_after=0.01)], shape="openrouter") as srv:
        async with backend_for(srv, "openrouter", max_retries=0) as backend:
            with pytest.raises(RateLimitError) as info:
                await backend.complete(ask())
    assert info.value.retry_after == pytest.approx(0.01)


# ---------------------------------------------------------------- drift recovery


def _after_one_tool_call() -> ChatRequest:
    """A request whose history has an assistant tool call carrying reasoning."""
    return ChatRequest(messages=(UserMessage(content="2+2?"),), tools=(ToolSpec(name="calc"),))


async def _tool_round(backend: OpenAICompatibleBackend) -> ChatRequest:
    first = await backend.complete(_after_one_tool_call())
    call = first.tool_calls[0]
    return ChatRequest(
        messages=(
            UserMessage(content="2+2?"),
            first.to_message(),
            ToolMessage(tool_call_id=call.id, content="4"),
        ),
        tools=(ToolSpec(name="calc"),),
    )


SCRIPT = [Turn(reasoning="CALL-THOUGHT", tool_calls=[ToolCallSpec("calc", {})]), OK]


async def test_drift_to_pass_back_switches_replay_and_retries_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ponder.backends")
    # V4 server, but the backend believes the legacy contract ("never")
    with FakeModelServer(SCRIPT, shape="deepseek") as srv:
        async with backend_for(srv, "deepseek", profile="deepseek-r1") as backend:
            follow_up = await _tool_round(backend)
            completion = await backend.complete(follow_up)
            assert backend.profile.replay == "tool_turns"
    assert completion.content == "Done."
    rejected, accepted = srv.requests[1].body, srv.requests[2].body
    assert rejected is not None and accepted is not None
    assert "reasoning_content" not in rejected["messages"][1]
    assert accepted["messages"][1]["reasoning_content"] == "CALL-THOUGHT"
    assert any("'never' to 'tool_turns'" in r.getMessage() for r in caplog.records)


async def test_drift_to_never_switches_replay_and_retries_once() -> None:
    # legacy R1 server, but the backend believes the V4 contract ("tool_turns")
    with FakeModelServer(SCRIPT, shape="deepseek-r1") as srv:
        async with backend_for(srv, "deepseek-r1", profile="deepseek") as backend:
            follow_up = await _tool_round(backend)
            events = await collect(backend, follow_up)
            assert backend.profile.replay == "never"
    assert not any(isinstance(e, RetryNotice) for e in events)
    final = events[-1]
    assert isinstance(final, Completed) and final.completion.content == "Done."
    accepted = srv.requests[2].body
    assert accepted is not None
    assert all("reasoning_content" not in m for m in accepted["messages"])


async def test_drift_recovery_happens_once_per_request() -> None:
    # The server rejects replay either way: the second 400 is raised, not looped on.
    def always_reject(body: dict[str, object]) -> Turn:
        return Turn(status=400, error_message="The reasoning_content must not be sent")

    with FakeModelServer(always_reject, shape="vllm") as srv:
        async with backend_for(srv, "vllm", profile="deepseek") as backend:
            with pytest.raises(BadRequestError, match="must not be sent"):
                await backend.complete(ask())
            assert backend.profile.replay == "never"
    assert len(srv.requests) == 2
