"""``Agent.arun`` cancelled near the end of a run (what Ctrl-C in ``ponder chat`` does).

The cancellation lands while the turn is being saved, a seeded number of
event-loop turns after the save began. The run must end within a bound, and
what the caller learns must match the store: ``CancelledError`` means nothing
was saved, :class:`CancelledAfterSave` or a result means the turn is there.
Seen before: the save hung forever in aiosqlite's close, holding the lock.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import CancelledAfterSave, MemoryStore
from ponder.testing import FakeModelServer, Turn

BOUND_S = 30.0


class _SavingSignal(MemoryStore):
    """The real store, which also says when a save begins."""

    saving: asyncio.Event

    async def add_turn(self, *args: Any, **kwargs: Any) -> Any:
        self.saving.set()
        return await super().add_turn(*args, **kwargs)


@pytest.mark.slow
async def test_arun_cancelled_while_saving_never_hangs_or_half_saves(tmp_path: Path) -> None:
    rnd = random.Random(11)
    store = _SavingSignal.from_url(f"sqlite:///{tmp_path / 'memory.db'}")
    answers = ["w" * rnd.choice([100, 200_000, 1_000_000]) for _ in range(20)]
    script = [Turn(content=a, chunk_chars=200_000) for a in answers]
    outcomes: list[str] = []
    try:
        with FakeModelServer(script, shape="deepseek") as server:
            async with OpenAICompatibleBackend(
                base_url=server.base_url, model="deepseek-v4-pro", api_key="k", profile="deepseek"
            ) as backend:
                agent = Agent(backend, [], memory=store)
                for i, answer in enumerate(answers):
                    store.saving = asyncio.Event()
                    run = asyncio.create_task(agent.arun(f"q{i}", thread_id=f"t{i}"))
                    await asyncio.wait_for(store.saving.wait(), BOUND_S)
                    for _ in range(rnd.randrange(60)):
                        await asyncio.sleep(0)
                    run.cancel()
                    done, _ = await asyncio.wait({run}, timeout=BOUND_S)
                    assert done, f"run {i} did not end within {BOUND_S}s of its cancellation"
                    try:
                        await run
                        outcome = "completed"
                    except CancelledAfterSave as saved:
                        assert saved.record.answer == answer
                        outcome = "saved"
                    except asyncio.CancelledError:
                        outcome = "cancelled"
                    stored = [t.answer for t in await store.turns(f"t{i}")]
                    assert stored == ([] if outcome == "cancelled" else [answer]), (i, outcome)
                    outcomes.append(outcome)
        assert "cancelled" in outcomes
        other = MemoryStore.from_url(f"sqlite:///{tmp_path / 'memory.db'}")
        try:
            async with asyncio.timeout(BOUND_S):
                await other.create_thread(thread_id="after")
        finally:
            await other.aclose()
    finally:
        await store.aclose()
