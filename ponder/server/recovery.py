"""Resuming abandoned runs: at server start-up, then once per lease period.

A run is abandoned when its lease expired while it was ``running``: the
worker that ran it died (kill -9, OOM, a lost machine). At start-up, and then
every lease period, a server claims each abandoned run of its agents in the
database (an atomic update that only one server wins, so two servers never
resume the same run) and finishes it in the background; its events are
kept, so a client can follow it at ``GET /runs/{run_id}/events``. An
abandoned background run (:mod:`ponder.agents.queue`) is handed back to its
DBOS queue instead, so the queue's workflow resumes it.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from typing import TYPE_CHECKING

from ponder.agents import Agent, RunNotClaimable, RunNotFound
from ponder.server.event_log import EventLog
from ponder.server.run_stream import run_frames
from ponder.server.runs import RunManager

if TYPE_CHECKING:
    from ponder.agents.queue import BackgroundRuns

__all__ = ["recover_abandoned", "recovery_loop"]

logger = logging.getLogger("ponder.server")


async def recover_abandoned(
    manager: RunManager, *, background: BackgroundRuns | None = None
) -> list[asyncio.Task[None]]:
    """Claim and resume the abandoned runs of ``manager``'s agents; their tasks.

    A background run goes back to its DBOS queue instead, for any worker to resume.
    """
    ledger, memory = manager.ledger, manager.memory
    if ledger is None or memory is None:
        return []
    tasks = []
    for run in await ledger.list(status="abandoned", limit=1000):
        if run.agent not in manager.names:
            continue
        if background is not None and await background.recover(run.run_id):
            logger.info("queued abandoned background run %s again", run.run_id)
            continue
        try:
            await ledger.claim(run.run_id, awaiting=False)
        except (RunNotClaimable, RunNotFound):
            continue  # another server took it, or it ended meanwhile
        logger.info("recovering abandoned run %s (thread %s)", run.run_id, run.thread_id)
        tasks.append(asyncio.create_task(_finish(manager, run.agent, run.run_id, run.thread_id)))
    return tasks


async def recovery_loop(
    manager: RunManager, interval_s: float, *, background: BackgroundRuns | None = None
) -> None:
    """Recover abandoned runs now and every ``interval_s`` until cancelled."""
    running: set[asyncio.Task[None]] = set()
    try:
        while True:
            try:
                for task in await recover_abandoned(manager, background=background):
                    running.add(task)
                    task.add_done_callback(running.discard)
            except Exception:  # the database may be briefly unreachable; try again later
                logger.warning("looking for abandoned runs failed", exc_info=True)
            await asyncio.sleep(interval_s)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _finish(manager: RunManager, name: str, run_id: str, thread_id: str) -> None:
    assert manager.memory is not None and manager.ledger is not None
    agent, close = manager.make_agent(name)
    try:
        if not isinstance(agent, Agent):
            await manager.ledger.finish(run_id, "failed")
            return
        log = EventLog(manager.memory)
        claim = manager.claim(thread_id)
        claim.run_id = run_id
        claim.attach()
        try:
            source = agent.astream_resume(run_id)
            frames = run_frames(
                manager.events(name, "", claim, run_id=run_id, source=source),
                start=None,
                run_id=run_id,
                thread_id=thread_id,
                show_reasoning=False,
                log=log.writer(run_id),
                first_id=await log.last_seq(run_id) + 1,
            )
            async with aclosing(frames) as stream:
                async for _frame in stream:
                    pass
        finally:
            claim.release()
    except Exception:
        logger.exception("recovering run %s failed", run_id)
    finally:
        if close:
            await agent.aclose()
