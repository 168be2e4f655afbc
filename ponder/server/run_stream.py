"""A run's events as SSE frames: ids, kept events, approvals, heartbeats."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from ponder.agents import FinalEvent
from ponder.agents._unwind import cancel_and_wait
from ponder.agents.agent import AgentEvent
from ponder.graphs import ErrorEvent, ReasoningEvent
from ponder.server.event_log import EventWriter
from ponder.server.sse import sse_frame

__all__ = ["HEARTBEAT", "HEARTBEAT_S", "run_frames", "with_heartbeat"]

logger = logging.getLogger("ponder.server")

HEARTBEAT = b": ping\n\n"
HEARTBEAT_S = 15.0


async def run_frames(
    events: AsyncGenerator[AgentEvent, None],
    *,
    start: dict[str, Any] | None,
    run_id: str,
    thread_id: str,
    show_reasoning: bool,
    log: EventWriter | None,
    first_id: int = 1,
) -> AsyncGenerator[bytes, None]:
    """SSE frames with ids ``first_id, …``; every frame but reasoning is kept in ``log``.

    A run that pauses sends ``approval_required`` (the pending calls), then
    ``final`` with ``outcome: "awaiting_approval"``.
    """
    ids = itertools.count(first_id)

    async def kept(data: dict[str, Any]) -> bytes:
        seq = next(ids)
        if log is not None:
            await log.add(seq, data["type"], data)
        return sse_frame(data, event=data["type"], event_id=seq)

    error_sent = False
    try:
        if start is not None:
            yield await kept(start)
        async with aclosing(events) as stream:
            async for event in stream:
                if isinstance(event, ReasoningEvent):
                    if show_reasoning:  # never kept
                        yield sse_frame(
                            event.model_dump(mode="json"), event="reasoning", event_id=next(ids)
                        )
                    continue
                if isinstance(event, FinalEvent):
                    result = event.result
                    if result.outcome == "awaiting_approval":
                        yield await kept(
                            {
                                "type": "approval_required",
                                "run_id": run_id,
                                "thread_id": thread_id,
                                "calls": [c.model_dump(mode="json") for c in result.pending],
                            }
                        )
                    yield await kept({"type": "final", "result": result.to_json_dict()})
                    continue
                error_sent = error_sent or isinstance(event, ErrorEvent)
                yield await kept(event.model_dump(mode="json"))
    except Exception as exc:
        if not error_sent:
            logger.error("run %s failed: %s", run_id, type(exc).__name__)
            yield await kept(
                {"type": "error", "step": 0, "kind": type(exc).__name__, "message": "run failed"}
            )
    finally:
        if log is not None:
            await log.flush()


async def with_heartbeat(
    frames: AsyncGenerator[bytes, None], interval_s: float = HEARTBEAT_S
) -> AsyncGenerator[bytes, None]:
    """``frames`` with a ``: ping`` comment whenever nothing was sent for ``interval_s``."""
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for frame in frames:
                await queue.put(frame)
        except BaseException as exc:  # handed to the consumer
            await queue.put(exc)
            return
        await queue.put(None)

    task = asyncio.create_task(pump())
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), interval_s)
            except TimeoutError:
                yield HEARTBEAT
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        try:
            await cancel_and_wait(task)  # once: the run's clean-up must not be cut short
        finally:
            await frames.aclose()
