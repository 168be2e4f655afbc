"""A cancelled ``add_turn`` never hangs, never holds the write lock, and never half-saves.

Cancellation lands at a random moment (a seeded number of event-loop turns
after the call starts). Each call must end within a bound; its outcome must
agree with the store afterwards: a plain ``CancelledError`` means nothing was
written, :class:`CancelledAfterSave` (or a normal return) means the turn is
there. Seen on the old store: the call hung forever in aiosqlite's close while
holding SQLite's write lock, and ``CancelledError`` was raised for stored turns.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from memory.conformance import Backend, turn_times
from ponder.memory import CancelledAfterSave, MemoryStore

ROUNDS = 25
BOUND_S = 30.0  # far above any honest save; only a hang reaches it


async def _cancel_once(store: MemoryStore, rnd: random.Random, thread_id: str, i: int) -> str:
    answer = "a" * rnd.choice([10, 50_000, 1_000_000])
    call = asyncio.create_task(
        store.add_turn(thread_id, question=f"q{i}", answer=answer, **turn_times(i))
    )
    for _ in range(rnd.randrange(80)):
        await asyncio.sleep(0)
    call.cancel()
    done, _ = await asyncio.wait({call}, timeout=BOUND_S)
    assert done, f"add_turn cancelled in round {i} did not finish within {BOUND_S}s"
    try:
        await call
    except CancelledAfterSave as saved:
        assert saved.record.question == f"q{i}"
        return "saved"
    except asyncio.CancelledError:
        return "cancelled"
    return "completed"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_cancelled_add_turn_is_all_or_nothing_and_never_hangs(
    backend: Backend, store: MemoryStore, seed: int
) -> None:
    rnd = random.Random(seed)
    await store.create_thread(thread_id="t")
    outcomes: list[str] = []
    for i in range(ROUNDS):
        before = [t.question for t in await store.turns("t")]
        outcome = await _cancel_once(store, rnd, "t", i)
        after = [t.question for t in await store.turns("t")]
        expected = before if outcome == "cancelled" else [*before, f"q{i}"]
        assert after == expected, f"round {i}: {outcome} but the thread holds {after[-1:]}"
        outcomes.append(outcome)
    assert "cancelled" in outcomes  # the cancellation did land mid-save
    # No lock is left behind: another connection takes the write lock at once.
    async with asyncio.timeout(BOUND_S), backend.hold_write_lock("t"):
        pass
    other = backend.open()
    try:
        async with asyncio.timeout(BOUND_S):
            await other.add_turn("t", question="after", answer="ok", **turn_times(99))
    finally:
        await other.aclose()
    assert (await store.turns("t"))[-1].question == "after"


async def test_cancelled_reads_and_close_do_not_hang(store: MemoryStore) -> None:
    for i in range(5):
        await store.add_turn("t", question=f"q{i}", answer="x" * 200_000, **turn_times(i))
    for spins in range(0, 40, 4):
        read = asyncio.create_task(store.turns("t"))
        for _ in range(spins):
            await asyncio.sleep(0)
        read.cancel()
        done, _ = await asyncio.wait({read}, timeout=BOUND_S)
        assert done
    assert len(await store.turns("t")) == 5
