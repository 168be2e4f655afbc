"""``/runs/{run_id}``: decisions on paused runs and reconnecting to a run's events.

- ``POST /runs/{run_id}/decisions`` (and ``/stream``): approve, reject or
  edit the pending calls; the run continues (404 unknown run, 409 not
  waiting or taken by another worker, 422 invalid decisions or edits).
- ``GET /runs/{run_id}/events`` with ``Last-Event-ID: N``: the kept events
  after N from the database (any worker), then the live ones until the run
  ends or pauses; ``reasoning_gone`` first, since reasoning is never kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, Field

from ponder.agents import Agent, FinalEvent, InvalidDecision, RunNotClaimable, RunNotFound
from ponder.graphs.approval import Decision, decision_from_json
from ponder.memory import MemoryStore
from ponder.server.auth import BearerAuth
from ponder.server.errors import ApiError
from ponder.server.event_log import TERMINAL_EVENTS, EventLog
from ponder.server.run_stream import run_frames, with_heartbeat
from ponder.server.runs import ClientDisconnected, RunManager, unless_disconnected
from ponder.server.sse import EventStreamResponse, sse_frame

__all__ = ["DecisionsRequest", "decisions_router"]

_POLL_S = 0.2


class DecisionItem(BaseModel):
    call_id: str = Field(min_length=1, max_length=200)
    action: Literal["approve", "reject", "edit"]
    message: str | None = Field(default=None, max_length=20_000)
    arguments: dict[str, Any] | None = None


class DecisionsRequest(BaseModel):
    """``POST /runs/{run_id}/decisions``: one decision per pending call."""

    decisions: list[DecisionItem] = Field(min_length=1, max_length=100)
    include_reasoning: bool = False


def decisions_router(
    manager: RunManager, *, memory: MemoryStore | None, allow_reasoning: bool, auth: BearerAuth
) -> APIRouter:
    """The ``/runs`` routes, behind ``auth``."""
    router = APIRouter(dependencies=[Depends(auth)])

    async def prepare(run_id: str, body: DecisionsRequest) -> tuple[str, Agent, bool, Any]:
        name = await _agent_of(manager, run_id)
        agent, close = manager.make_agent(name)
        try:
            if not isinstance(agent, Agent):
                raise ApiError(409, "not_resumable", f"agent {name!r} runs cannot be resumed")
            decisions = _parse(body)
            thread_id = await _check(agent, run_id, decisions)
            claim = manager.claim(thread_id)
            claim.run_id = run_id
            try:
                if manager.ledger is not None:
                    await manager.ledger.claim(run_id, awaiting=True)
            except (RunNotClaimable, RunNotFound) as exc:
                claim.release()
                raise _api_error(exc) from None
            return name, agent, close, (claim, decisions)
        except BaseException:
            if close:
                await agent.aclose()
            raise

    @router.post("/runs/{run_id}/decisions")
    async def decide(run_id: str, body: DecisionsRequest, request: Request) -> Any:
        name, agent, close, (claim, decisions) = await prepare(run_id, body)
        claim.attach()
        source = agent.astream_resume(run_id, decisions)
        events = manager.events(name, "", claim, run_id=run_id, source=source)

        async def result() -> Any:
            async for event in events:
                if isinstance(event, FinalEvent):
                    return event.result
            raise RuntimeError("the run ended without a result")

        try:
            run_result = await unless_disconnected(result(), request.receive)
        except ClientDisconnected:
            return Response(status_code=499)
        finally:
            await events.aclose()
            claim.release()
            if close:
                await agent.aclose()
        payload = run_result.to_json_dict()
        if allow_reasoning and body.include_reasoning:
            payload["reasoning"] = run_result.reasoning
        return payload

    @router.post("/runs/{run_id}/decisions/stream")
    async def decide_stream(run_id: str, body: DecisionsRequest) -> EventStreamResponse:
        name, agent, close, (claim, decisions) = await prepare(run_id, body)
        log = EventLog(memory) if memory is not None else None
        first = (await log.last_seq(run_id)) + 1 if log is not None else 1

        async def frames() -> AsyncGenerator[bytes, None]:
            claim.attach()
            try:
                source = agent.astream_resume(run_id, decisions)
                async for frame in run_frames(
                    manager.events(name, "", claim, run_id=run_id, source=source),
                    start=None,
                    run_id=run_id,
                    thread_id=claim.thread_id,
                    show_reasoning=allow_reasoning and body.include_reasoning,
                    log=log.writer(run_id) if log is not None else None,
                    first_id=first,
                ):
                    yield frame
            finally:
                if close:
                    await agent.aclose()

        return EventStreamResponse(with_heartbeat(frames()), on_close=claim.release)

    @router.get("/runs/{run_id}/events")
    async def events(
        run_id: str, last_event_id: str | None = Header(default=None)
    ) -> EventStreamResponse:
        if memory is None:
            raise ApiError(501, "not_configured", "reconnecting needs a server with memory")
        log = EventLog(memory)
        if manager.ledger is not None and await manager.ledger.get(run_id) is None:
            raise ApiError(404, "run_not_found", f"no run {run_id!r}")
        try:
            after = int(last_event_id or 0)
        except ValueError:
            raise ApiError(422, "invalid_request", "Last-Event-ID must be an integer") from None
        return EventStreamResponse(with_heartbeat(_replay(log, run_id, after)), on_close=_noop)

    return router


async def _replay(log: EventLog, run_id: str, after: int) -> AsyncGenerator[bytes, None]:
    """``reasoning_gone``, the kept events after ``after``, then new ones until the run stops."""
    yield sse_frame(
        {
            "type": "reasoning_gone",
            "message": "reasoning is never kept; reasoning sent before this reconnect is gone",
        },
        event="reasoning_gone",
    )
    while True:
        for seq, event, data in await log.after(run_id, after):
            after = seq
            yield sse_frame(data, event=event, event_id=seq)
            if event in TERMINAL_EVENTS:
                return
        await asyncio.sleep(_POLL_S)


def _noop() -> None:
    return None


def _parse(body: DecisionsRequest) -> dict[str, Decision]:
    try:
        return {d.call_id: decision_from_json(d.model_dump()) for d in body.decisions}
    except InvalidDecision as exc:
        raise ApiError(422, "invalid_decision", str(exc)) from None


async def _agent_of(manager: RunManager, run_id: str) -> str:
    if manager.ledger is not None:
        run = await manager.ledger.get(run_id)
        if run is None or run.agent is None:
            raise ApiError(404, "run_not_found", f"no run {run_id!r}")
        if run.status != "awaiting_approval":
            raise ApiError(409, "run_not_waiting", f"run {run_id} is {run.status}")
        name = run.agent
    else:
        found = manager.paused.get(run_id)
        if found is None:
            raise ApiError(404, "run_not_found", f"no paused run {run_id!r}")
        name = found
    manager.check_agent(name)
    return name


async def _check(agent: Agent, run_id: str, decisions: dict[str, Decision]) -> str:
    """Validate the decisions against the run's pending calls; the run's thread id."""
    try:
        return await agent.check_decisions(run_id, decisions)
    except InvalidDecision as exc:
        raise ApiError(422, "invalid_decision", str(exc)) from None
    except (RunNotFound, RunNotClaimable) as exc:
        raise _api_error(exc) from None


def _api_error(exc: Exception) -> ApiError:
    if isinstance(exc, RunNotFound):
        return ApiError(404, "run_not_found", str(exc))
    return ApiError(409, "run_not_waiting", str(exc))
