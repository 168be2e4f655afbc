"""A run consumed inside an anyio cancel scope (Starlette's way) stops its tool when cancelled.

anyio cancels the tasks of a cancelled scope again on every loop turn until
they return. The agent must cancel its run once and wait for it: a repeated
cancel that reached LangGraph mid clean-up left the tool running.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import MemoryStore
from ponder.memory.runs import RunLedger
from ponder.testing import FakeModelServer, ToolCallSpec, Turn


async def test_a_run_cancelled_again_and_again_still_cancels_its_tool(tmp_path: Path) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def nap(seconds: int) -> str:
        """Sleep for ``seconds`` seconds."""
        started.set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "slept"

    turn = Turn(reasoning="a nap first", tool_calls=[ToolCallSpec("nap", {"seconds": 120})])
    memory = MemoryStore.from_url(f"sqlite:///{tmp_path / 'memory.db'}")
    with FakeModelServer([turn], shape="deepseek") as model:
        async with OpenAICompatibleBackend(
            base_url=model.base_url, model="deepseek-v4-pro", api_key="sk-test", profile="deepseek"
        ) as backend:
            agent = Agent(backend, [nap], memory=memory)

            async def consume() -> None:
                async for _ in agent.astream("nap", thread_id="napper"):
                    pass

            with anyio.fail_after(60):  # a hang fails here, not the whole suite
                async with anyio.create_task_group() as group:
                    group.start_soon(consume)
                    await started.wait()
                    group.cancel_scope.cancel()
            # the run's iterator returned only after the tool saw its cancellation
            assert cancelled.is_set()
            await agent.aclose()
    try:
        (run,) = await RunLedger.for_store(memory).list()
        assert run.status == "cancelled"
        assert await memory.turns("napper") == []
    finally:
        await memory.aclose()
