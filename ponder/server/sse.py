"""Server-Sent Events: frame encoding and a response that stops when the client leaves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable
from contextlib import suppress
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ponder.agents._unwind import cancel_and_wait
from ponder.server.runs import until_disconnected

__all__ = ["EventStreamResponse", "sse_frame"]


def sse_frame(data: Any, *, event: str | None = None, event_id: int | None = None) -> bytes:
    """One SSE frame; ``data`` is JSON-encoded unless it is already a string."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event is not None:
        lines.append(f"event: {event}")
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    lines.extend(f"data: {line}" for line in text.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


class EventStreamResponse(StreamingResponse):
    """``text/event-stream`` that cancels its producer as soon as the client disconnects.

    Starlette notices a disconnect only on the next write; a run may be silent
    for a long time (reasoning hidden, a slow tool), so this response also
    watches ``receive``. On a disconnect the stream is cancelled once and
    waited for until its run has unwound (an anyio cancel scope would cancel
    it again and again, cutting the run's clean-up short). ``on_close`` runs
    however the response ends, even if the stream never started.
    """

    def __init__(
        self, frames: AsyncGenerator[bytes, None], *, on_close: Callable[[], None]
    ) -> None:
        super().__init__(
            frames,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._frames = frames
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            streaming = asyncio.ensure_future(self._send_frames(send))
            watching = asyncio.ensure_future(until_disconnected(receive))
            try:
                await asyncio.wait((streaming, watching), return_when=asyncio.FIRST_COMPLETED)
            finally:
                watching.cancel()
                await cancel_and_wait(streaming)
            if not streaming.cancelled():
                streaming.result()
        finally:
            try:
                await self._frames.aclose()
            finally:
                self._on_close()

    async def _send_frames(self, send: Send) -> None:
        with suppress(OSError):  # the client went away mid-write
            await self.stream_response(send)
