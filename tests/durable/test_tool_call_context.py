"""``current_tool_call()``: a tool learns its run, step, call id and idempotency key.

Real LangGraph runs against the loopback fake model, with SQLite memory.
(That a resumed run repeats an in-flight call with the same key, after a
kill -9, is in test_crash_resume.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ponder.agents import Agent, Approve
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import MemoryStore
from ponder.testing import FakeModelServer, ToolCallSpec, Turn
from ponder.tools import Tool, ToolCallContext, current_tool_call


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[MemoryStore]:
    store = MemoryStore.from_url(f"sqlite:///{tmp_path / 'memory.db'}")
    yield store
    await store.aclose()


def recording_tools(seen: list[ToolCallContext | None]) -> list[Tool]:
    async def send(to: str) -> str:
        """Send a note.

        Args:
            to: who gets it
        """
        seen.append(current_tool_call())
        return f"sent to {to}"

    def log(line: str) -> str:
        """Log a line (a sync tool: it runs in a thread).

        Args:
            line: the text
        """
        seen.append(current_tool_call())
        return "logged"

    return [Tool.from_function(send), Tool.from_function(log)]


def script() -> list[Turn]:
    calls = [ToolCallSpec("send", {"to": "bob"}), ToolCallSpec("log", {"line": "x"})]
    return [
        Turn(content="Sending.", tool_calls=calls),
        Turn(content="Once more.", tool_calls=[ToolCallSpec("send", {"to": "ann"})]),
        Turn(content="All sent."),
    ]


def backend(server: FakeModelServer) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(base_url=server.base_url, model="fake-r1", api_key="sk-test")


async def test_tools_of_a_durable_run_see_their_call(memory: MemoryStore) -> None:
    seen: list[ToolCallContext | None] = []
    with FakeModelServer(script(), shape="vllm") as server:
        async with backend(server) as model:
            result = await Agent(model, recording_tools(seen), memory=memory).arun("go")
    assert result.answer == "All sent."
    assert current_tool_call() is None  # outside a tool
    records = {(r.name, r.arguments.get("to", "")): r.id for r in result.tool_calls}
    contexts = [c for c in seen if c is not None]
    assert len(contexts) == len(seen) == 3
    by_call = {(c.tool_name, c.step): c for c in contexts}
    assert set(by_call) == {("send", 1), ("log", 1), ("send", 2)}
    for context in contexts:
        assert context.run_id == result.run_id
        assert context.idempotency_key == f"{result.run_id}:{context.step}:{context.call_id}"
    assert by_call["send", 1].call_id == records["send", "bob"]
    assert by_call["send", 2].call_id == records["send", "ann"]
    assert len({c.idempotency_key for c in contexts}) == 3


async def test_a_call_resumed_after_approval_keeps_the_run_s_key(memory: MemoryStore) -> None:
    seen: list[ToolCallContext | None] = []
    turns = [
        Turn(content="Sending.", tool_calls=[ToolCallSpec("send", {"to": "bob"})]),
        Turn(content="Sent."),
    ]
    with FakeModelServer(turns, shape="vllm") as server:
        async with backend(server) as model:
            agent = Agent(model, recording_tools(seen), memory=memory, approvals={"send": "always"})
            paused = await agent.arun("go")
            [call] = paused.pending
            assert seen == []
            done = await Agent(model, recording_tools(seen), memory=memory).aresume(
                paused.run_id, {call.call_id: Approve()}
            )
    assert done.answer == "Sent."
    [context] = seen
    assert context is not None
    assert context.idempotency_key == f"{paused.run_id}:1:{call.call_id}"


async def test_tools_of_a_run_without_checkpoints_see_their_call(memory: MemoryStore) -> None:
    seen: list[ToolCallContext | None] = []
    with FakeModelServer(script(), shape="vllm") as server:
        async with backend(server) as model:
            agent = Agent(model, recording_tools(seen), memory=memory, durable=False)
            result = await agent.arun("go")
    assert result.answer == "All sent."
    contexts = [c for c in seen if c is not None]
    assert len(contexts) == 3
    assert len({c.run_id for c in contexts}) == 1  # one id for the run's calls
    assert sorted((c.tool_name, c.step) for c in contexts) == [
        ("log", 1),
        ("send", 1),
        ("send", 2),
    ]
