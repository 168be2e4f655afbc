"""Lease fencing on SQLite and PostgreSQL: ``RunLedger.fence``, the renewer, fenced savers.

A second ledger on the same store stands for another worker (its own owner
id); a takeover is what happens after a stall: the first worker's lease
expires and the second claims the run.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from sqlalchemy import update

from memory.conformance import Backend, SQLiteBackend
from ponder.memory import (
    LeaseLost,
    MemoryStore,
    RunLedger,
    postgres_checkpointer,
    sqlite_checkpointer,
)
from ponder.memory.models import RunRow


async def expire(store: MemoryStore, run_id: str) -> None:
    """The run's lease ran out (its worker stalled past it)."""
    past = datetime.now(UTC) - timedelta(seconds=5)
    async with store.write_engine.begin() as conn:
        await conn.execute(
            update(RunRow).where(RunRow.run_id == run_id).values(lease_expires_at=past)
        )


async def take_over(store: MemoryStore, a: RunLedger, b: RunLedger, run_id: str) -> None:
    await expire(store, run_id)
    await b.claim(run_id, awaiting=False)


async def test_fence_passes_while_held_then_raises_after_a_takeover(store: MemoryStore) -> None:
    a, b = RunLedger(store), RunLedger(store)
    try:
        run_id = await a.start("t", "q")
        await a.fence(run_id)
        await a.fence("no-such-run")  # no ledger row: nothing to lose
        await take_over(store, a, b, run_id)
        with pytest.raises(LeaseLost, match=f"run {run_id}: this worker lost") as caught:
            await a.fence(run_id)
        assert caught.value.run_id == run_id
        assert not a.holds(run_id) and b.holds(run_id)
        await b.fence(run_id)
        await a.finish(run_id, "failed")  # the old owner cannot touch the new owner's row
        run = await a.get(run_id)
        assert run is not None and (run.status, run.owner) == ("running", b.owner)
        await b.finish(run_id, "done")
        with pytest.raises(LeaseLost):  # still lost, also after the run ended
            await a.fence(run_id)
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_run_superseded_on_its_thread_is_fenced(store: MemoryStore) -> None:
    a, b = RunLedger(store), RunLedger(store)
    try:
        old = await a.start("t", "first")
        await expire(store, old)
        await b.start("t", "second")  # marks the expired run abandoned; its owner stays a
        with pytest.raises(LeaseLost):
            await a.fence(old)
    finally:
        await a.aclose()
        await b.aclose()


async def test_the_renewer_notices_a_lost_lease_and_stops_holding_it(store: MemoryStore) -> None:
    a, b = RunLedger(store, lease_s=0.3), RunLedger(store)
    try:
        lost, kept, ended = [await a.start(t, "q") for t in ("t1", "t2", "t3")]
        await a.finish(ended, "done")
        await take_over(store, a, b, lost)
        for _ in range(100):  # renewals every 0.1 s
            if not a.holds(lost):
                break
            await asyncio.sleep(0.05)
        assert not a.holds(lost) and a.holds(kept)
        with pytest.raises(LeaseLost):
            await a.fence(lost)
        await a.fence(kept)
        await a.fence(ended)  # finished by its owner: not lost
        await asyncio.sleep(0.5)  # more renewals: the kept lease is still renewed
        info = await a.get(kept)
        assert info is not None and info.lease_expires_at is not None
        assert info.lease_expires_at > datetime.now(UTC)
        taken = await a.get(lost)
        assert taken is not None and taken.owner == b.owner
    finally:
        await a.aclose()
        await b.aclose()


# ------------------------------------------------------------------ savers


class Count(TypedDict):
    n: int


def _graph(saver: BaseCheckpointSaver[Any]) -> Any:
    graph = StateGraph(Count)
    graph.add_node("inc", lambda state: {"n": state["n"] + 1})
    graph.add_edge(START, "inc")
    graph.add_edge("inc", END)
    return graph.compile(checkpointer=saver)


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


@asynccontextmanager
async def fenced_saver(backend: Backend, ledger: RunLedger) -> AsyncIterator[Any]:
    if isinstance(backend, SQLiteBackend):
        async with sqlite_checkpointer(backend.path, fence=ledger) as saver:
            yield saver
    else:
        async with postgres_checkpointer(backend.url, fence=ledger) as saver:
            yield saver


def _tables(backend: Backend) -> tuple[str, ...]:
    if isinstance(backend, SQLiteBackend):
        return ("checkpoints", "writes")
    return ("checkpoints", "checkpoint_writes", "checkpoint_blobs")


async def _rows(backend: Backend) -> dict[str, int]:
    return {table: await backend.table_rows(table) for table in _tables(backend)}


async def test_a_fenced_out_saver_writes_nothing(backend: Backend, store: MemoryStore) -> None:
    a, b = RunLedger(store), RunLedger(store)
    try:
        run_id = await a.start("t", "q")
        async with fenced_saver(backend, a) as saver:
            graph = _graph(saver)
            assert (await graph.ainvoke({"n": 0}, _config(run_id)))["n"] == 1
            assert (await graph.ainvoke({"n": 5}, _config("no-ledger-row")))["n"] == 6
            await take_over(store, a, b, run_id)
            before = await _rows(backend)
            with pytest.raises(LeaseLost):
                await graph.ainvoke({"n": 10}, _config(run_id))
            latest = await saver.aget_tuple(_config(run_id))
            with pytest.raises(LeaseLost):
                await saver.aput_writes(latest.config, [("n", 99), ("other", 1)], "task-1")
            assert await _rows(backend) == before
            state = await graph.aget_state(_config(run_id))
            assert state.values == {"n": 1}
            # the refusal left no transaction open: other writers go on at once
            assert (await graph.ainvoke({"n": 7}, _config("no-ledger-row")))["n"] == 8
            if isinstance(backend, SQLiteBackend):
                with sqlite3.connect(backend.path, timeout=1, isolation_level=None) as conn:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("COMMIT")
                conn.close()
            await b.finish(run_id, "done")
            run = await b.get(run_id)
            assert run is not None and (run.status, run.owner) == ("done", b.owner)
        async with fenced_saver(backend, b) as saver:  # the new owner's saver writes
            assert (await _graph(saver).ainvoke({"n": 20}, _config(run_id)))["n"] == 21
    finally:
        await a.aclose()
        await b.aclose()


async def test_an_unfenced_saver_is_unchanged(backend: Backend, store: MemoryStore) -> None:
    """Without ``fence=``, savers write as before (e.g. a caller's own checkpointer)."""
    a, b = RunLedger(store), RunLedger(store)
    try:
        run_id = await a.start("t", "q")
        await take_over(store, a, b, run_id)
        if isinstance(backend, SQLiteBackend):
            async with sqlite_checkpointer(backend.path) as saver:
                assert (await _graph(saver).ainvoke({"n": 0}, _config(run_id)))["n"] == 1
        else:
            async with postgres_checkpointer(backend.url) as saver:
                assert (await _graph(saver).ainvoke({"n": 0}, _config(run_id)))["n"] == 1
    finally:
        await a.aclose()
        await b.aclose()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_stalled_workers_open_transaction_does_not_block_the_takeover(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker stopped (SIGSTOP) inside a transaction holds the run's row lock;
    # PostgreSQL ends that session after the stalled-transaction timeout, so the
    # claimer waits that long, not until the stalled worker's connection dies.
    from ponder.memory import store as store_module

    monkeypatch.setattr(store_module, "STALLED_TRANSACTION_TIMEOUT_MS", 1000)
    stalled, claimer = backend.open(), backend.open()
    a, b = RunLedger(stalled), RunLedger(claimer)
    try:
        run_id = await a.start("t", "q")
        await expire(stalled, run_id)
        conn = await stalled.write_engine.connect()
        await conn.begin()
        await conn.execute(
            update(RunRow).where(RunRow.run_id == run_id).values(updated_at=datetime.now(UTC))
        )  # then the worker stalls, its transaction open
        claimed = await asyncio.wait_for(b.claim(run_id, awaiting=False), timeout=60)
        assert claimed.owner == b.owner
        with pytest.raises(Exception, match=r"idle-in-transaction|terminat|closed"):
            await conn.commit()  # the server ended the stalled session: its write is gone
        await conn.invalidate()
    finally:
        await a.aclose()
        await b.aclose()
        await stalled.aclose()
        await claimer.aclose()
