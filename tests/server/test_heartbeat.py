"""Idle SSE streams get ``: ping`` comments; a finished stream ends without one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from ponder.server.run_stream import HEARTBEAT, with_heartbeat


async def slow_frames() -> AsyncGenerator[bytes, None]:
    yield b"data: 1\n\n"
    await asyncio.sleep(0.35)
    yield b"data: 2\n\n"


async def test_idle_gaps_get_pings_and_frames_keep_their_order() -> None:
    out = [frame async for frame in with_heartbeat(slow_frames(), interval_s=0.1)]
    frames = [f for f in out if f != HEARTBEAT]
    assert frames == [b"data: 1\n\n", b"data: 2\n\n"]
    assert out.index(b"data: 1\n\n") < out.index(HEARTBEAT) < out.index(b"data: 2\n\n")
    assert out[-1] == b"data: 2\n\n"


async def test_closing_early_closes_the_source() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncGenerator[bytes, None]:
        try:
            while True:
                yield b"data: x\n\n"
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    stream = with_heartbeat(endless(), interval_s=1)
    assert await anext(stream) == b"data: x\n\n"
    await stream.aclose()
    assert closed.is_set()
