"""Ctrl-C in ``ponder chat`` tells the truth about a turn cancelled while it was saved."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ponder.cli.chat_session import _cancelled_note
from ponder.memory import CancelledAfterSave, TurnRecord


async def test_the_note_says_saved_only_when_the_turn_was_stored() -> None:
    now = datetime.now(UTC)
    record = TurnRecord(
        thread_id="t", index=0, question="q", answer="a", tool_calls=[], model=None,
        usage={}, started_at=now, finished_at=now,
    )  # fmt: skip

    async def cancelled_after_save() -> None:
        raise CancelledAfterSave(record)

    async def slow() -> None:
        await asyncio.sleep(60)

    saved = asyncio.create_task(cancelled_after_save())
    plain = asyncio.create_task(slow())
    await asyncio.sleep(0)
    plain.cancel()
    await asyncio.wait({saved, plain})
    assert saved.cancelled() and plain.cancelled()
    assert _cancelled_note(saved) == "cancelled after the answer was saved: it is in the thread"
    assert _cancelled_note(plain).startswith("cancelled: nothing of this answer was saved")
