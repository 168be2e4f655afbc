"""The native API: runs as JSON or SSE, thread history and deletion."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request, Response

from ponder.memory import MemoryStore
from ponder.server.auth import BearerAuth
from ponder.server.background import submit_background
from ponder.server.errors import ApiError
from ponder.server.event_log import EventLog
from ponder.server.models import RunRequest, ThreadId
from ponder.server.run_stream import run_frames, with_heartbeat
from ponder.server.runs import ClientDisconnected, RunManager, ThreadClaim, unless_disconnected
from ponder.server.sse import EventStreamResponse

if TYPE_CHECKING:
    from ponder.agents.queue import BackgroundRuns

__all__ = ["native_router"]

logger = logging.getLogger("ponder.server")


def native_router(
    manager: RunManager,
    *,
    memory: MemoryStore | None,
    allow_reasoning: bool,
    auth: BearerAuth,
    background: BackgroundRuns | None = None,
) -> APIRouter:
    """Routes under ``/agents`` and ``/threads``, all behind ``auth``."""
    router = APIRouter(dependencies=[Depends(auth)])

    @router.post("/agents/{agent}/runs")
    async def run(agent: str, body: RunRequest, request: Request) -> Any:
        manager.check_agent(agent)
        if body.background:
            return await submit_background(background, agent, body)
        claim = await manager.start(agent, body.thread_id or uuid.uuid4().hex, body.question)
        claim.attach()
        try:
            work = manager.result(agent, body.question, claim, run_id=claim.run_id)
            result = await unless_disconnected(work, request.receive)
        except ClientDisconnected:
            return Response(status_code=499)  # nobody is listening
        finally:
            claim.release()
        payload = result.to_json_dict()
        if allow_reasoning and body.include_reasoning:
            payload["reasoning"] = result.reasoning
        return payload

    @router.post("/agents/{agent}/runs/stream")
    async def run_stream(agent: str, body: RunRequest) -> EventStreamResponse:
        manager.check_agent(agent)
        if body.background:
            raise ApiError(422, "invalid_request", "queue background runs at /agents/{agent}/runs")
        claim = await manager.start(agent, body.thread_id or uuid.uuid4().hex, body.question)
        show_reasoning = allow_reasoning and body.include_reasoning
        frames = _frames(manager, agent, body.question, claim, show_reasoning=show_reasoning)
        return EventStreamResponse(with_heartbeat(frames), on_close=claim.release)

    def _store() -> MemoryStore:
        if memory is None:
            raise ApiError(501, "not_configured", "this server was created without memory")
        return memory

    @router.get("/threads/{thread_id}")
    async def history(thread_id: ThreadId) -> dict[str, Any]:
        store = _store()
        if not await store.thread_exists(thread_id):
            raise ApiError(404, "thread_not_found", f"no thread {thread_id!r}")
        turns = await store.turns(thread_id)
        return {
            "thread_id": thread_id,
            "turns": [
                {
                    "index": turn.index,
                    "question": turn.question,
                    "answer": turn.answer,
                    "started_at": turn.started_at.isoformat(),
                    "finished_at": turn.finished_at.isoformat(),
                }
                for turn in turns
            ],
        }

    @router.delete("/threads/{thread_id}", status_code=204)
    async def delete(thread_id: ThreadId) -> Response:
        store = _store()
        claim = manager.claim(thread_id)
        try:
            deleted = await store.delete_thread(thread_id)
        finally:
            claim.release()
        if not deleted:
            raise ApiError(404, "thread_not_found", f"no thread {thread_id!r}")
        return Response(status_code=204)

    return router


async def _frames(
    manager: RunManager, agent: str, question: str, claim: ThreadClaim, *, show_reasoning: bool
) -> AsyncGenerator[bytes, None]:
    """SSE frames with ids 1, 2, …: ``run``, the run's events, then ``final`` or ``error``."""
    claim.attach()
    run_id = claim.run_id
    start = {"type": "run", "run_id": run_id, "thread_id": claim.thread_id, "agent": agent}
    log = EventLog(manager.memory).writer(run_id) if manager.memory is not None else None
    frames = run_frames(
        manager.events(agent, question, claim, run_id=run_id),
        start=start,
        run_id=run_id,
        thread_id=claim.thread_id,
        show_reasoning=show_reasoning,
        log=log,
    )
    async with aclosing(frames) as stream:
        async for frame in stream:
            yield frame
