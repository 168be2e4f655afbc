"""Redacting LangGraph checkpointers: a real graph, real savers, every byte scanned."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from memory.conformance import PostgresBackend, create_pg_schema, drop_pg_schema
from ponder.memory import (
    RedactingSerializer,
    postgres_checkpointer,
    scan_files_for,
    sqlite_artifacts,
    sqlite_checkpointer,
)

CANARY = "CANARY-c41e0b-chain-of-thought"


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    reasoning: str
    notes: list[dict[str, Any]]


def _think(state: State) -> State:
    turn = len(state["messages"])
    thought = AIMessage(
        content=[
            {"type": "reasoning", "reasoning": f"{CANARY} block {turn}"},
            {"type": "text", "text": f"Let me use a tool ({turn})."},
        ],
        additional_kwargs={"reasoning_content": f"{CANARY} field {turn}"},
    )
    return {
        "messages": [thought],
        "reasoning": f"{CANARY} channel {turn}",
        "notes": [{"step": turn, "thinking": CANARY, "summary": "tool chosen"}],
    }


def _answer(state: State) -> State:
    turn = len(state["messages"])
    final = AIMessage(
        content=f"<think>{CANARY} inline {turn}</think>Final answer {turn}",
        additional_kwargs={"reasoning": CANARY},
    )
    return {"messages": [final]}


def _graph(saver: BaseCheckpointSaver[Any]) -> Any:
    builder = StateGraph(State)
    builder.add_node("think", _think)
    builder.add_node("answer", _answer)
    builder.add_edge(START, "think")
    builder.add_edge("think", "answer")
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=saver)


def _config() -> Any:
    return {"configurable": {"thread_id": "conversation"}}


async def _run_two_turns(saver: BaseCheckpointSaver[Any]) -> State:
    graph = _graph(saver)
    config = _config()
    await graph.ainvoke({"messages": [HumanMessage(content="What is 6*7?")]}, config)
    await graph.ainvoke({"messages": [HumanMessage(content="And 6*8?")]}, config)
    snapshot = await graph.aget_state(config)
    return snapshot.values  # type: ignore[no-any-return]


def _assert_clean_state(values: State) -> None:
    assert CANARY not in repr(values)
    messages = values["messages"]
    assert [type(m).__name__ for m in messages] == ["HumanMessage", "AIMessage", "AIMessage"] * 2
    assert messages[0].content == "What is 6*7?"
    assert messages[1].content == [{"type": "text", "text": "Let me use a tool (1)."}]
    assert messages[2].content == "Final answer 2"
    assert messages[5].content == "Final answer 5"
    assert all("reasoning_content" not in m.additional_kwargs for m in messages)
    assert values["notes"] == [{"step": 4, "summary": "tool chosen"}]


async def test_sqlite_checkpointer_persists_no_reasoning(tmp_path: Path) -> None:
    db = tmp_path / "ckpt" / "graph.db"
    async with sqlite_checkpointer(db) as saver:
        values = await _run_two_turns(saver)
        _assert_clean_state(values)
        assert scan_files_for("Final answer 5", sqlite_artifacts(db)), "positive control"
        assert scan_files_for(CANARY, sqlite_artifacts(db)) == []
    assert scan_files_for(CANARY, [tmp_path]) == []
    async with sqlite_checkpointer(db) as saver:  # resumes from disk, still clean
        _assert_clean_state((await _graph(saver).aget_state(_config())).values)


@pytest.mark.postgres
async def test_postgres_checkpointer_persists_no_reasoning(pg_url: str) -> None:
    schema = create_pg_schema(pg_url)
    backend = PostgresBackend(pg_url, schema)
    try:
        async with postgres_checkpointer(backend.url) as saver:
            _assert_clean_state(await _run_two_turns(saver))
        assert await backend.contains("Final answer 5"), "positive control"
        assert not await backend.contains(CANARY)
    finally:
        drop_pg_schema(pg_url, schema)


@pytest.mark.postgres
@pytest.mark.parametrize(("synchronous_commit", "shown"), [(False, "off"), (True, "on")])
async def test_postgres_checkpoints_skip_the_wal_flush_unless_asked(
    pg_url: str, synchronous_commit: bool, shown: str
) -> None:
    async with postgres_checkpointer(pg_url, synchronous_commit=synchronous_commit) as saver:
        cursor = await saver.conn.execute("SHOW synchronous_commit")  # type: ignore[union-attr]
        row = await cursor.fetchone()
    assert row is not None and row["synchronous_commit"] == shown


@pytest.mark.parametrize(
    "make_inner", [lambda: None, JsonPlusSerializer], ids=["default", "explicit inner"]
)
def test_serializer_round_trip(make_inner: Callable[[], Any]) -> None:
    serde = RedactingSerializer(make_inner())
    message = AIMessage(content="shown", additional_kwargs={"reasoning_content": CANARY})
    kind, data = serde.dumps_typed({"messages": [message], "n": 3})
    assert CANARY.encode() not in data
    loaded = serde.loads_typed((kind, data))
    assert loaded["n"] == 3
    assert loaded["messages"][0].content == "shown"
    assert loaded["messages"][0].additional_kwargs == {}


async def test_postgres_checkpointer_rejects_other_urls() -> None:
    cm: AbstractAsyncContextManager[Any] = postgres_checkpointer("sqlite:///x.db")
    with pytest.raises(ValueError, match="postgresql://"):
        await cm.__aenter__()
