"""Server-Sent Events: frame encoding and a response that stops when the client leaves."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from contextlib import suppress
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

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
    watches ``receive``. ``on_close`` runs however the response ends, even if
    the stream never started.
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
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    await until_disconnected(receive)
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                with suppress(OSError):  # the client went away mid-write
                    await self.stream_response(send)
                group.cancel_scope.cancel()
        finally:
            try:
                await self._frames.aclose()
            finally:
                self._on_close()
