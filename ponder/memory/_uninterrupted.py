"""Database work that a caller's cancellation cannot cut in half.

Cancelling a task while SQLAlchemy's asyncio layer waits on the driver can
leave the driver in a state it never leaves: seen with aiosqlite, whose
connection close then waits forever on a worker thread that already stopped,
holding SQLite's write lock. So the store never lets a cancellation reach the
driver. Each operation runs in a task of its own; a cancelled caller waits
for it to finish (bounded by the database's busy timeout) and then re-raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ponder.memory.models import TurnRecord

__all__ = ["CancelledAfterSave", "run_to_end", "save_unless_cancelled"]

_T = TypeVar("_T")


class CancelledAfterSave(asyncio.CancelledError):
    """``add_turn`` was cancelled, but its transaction had already committed.

    The turn *is* stored (see :attr:`record`). It is a
    :class:`asyncio.CancelledError`, so cancellation still unwinds as usual;
    code that reports an outcome catches it to say "saved" instead of
    "cancelled".
    """

    def __init__(self, record: TurnRecord) -> None:
        super().__init__(
            f"cancelled after turn {record.index} of thread {record.thread_id!r} was stored"
        )
        self.record = record


async def _wait_out(task: asyncio.Future[_T]) -> None:
    """Wait until ``task`` is done, ignoring further cancellations of the caller."""
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            continue
        except Exception:
            return


async def run_to_end(work: Awaitable[_T]) -> _T:
    """Await ``work`` in its own task; a cancelled caller waits for it, then re-raises."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await _wait_out(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never seen
        raise


async def save_unless_cancelled(
    write: Callable[[Callable[[], bool]], Awaitable[TurnRecord | None]],
) -> TurnRecord:
    """Run one write transaction that commits only if the caller was not cancelled.

    ``write(aborted)`` does the work and, just before committing, rolls back
    and returns ``None`` when ``aborted()`` is true. A caller cancelled before
    that point gets a plain :class:`asyncio.CancelledError` and nothing is
    written; one cancelled later gets :class:`CancelledAfterSave`.
    """
    cancelled = False
    task = asyncio.ensure_future(write(lambda: cancelled))
    try:
        record = await asyncio.shield(task)
    except asyncio.CancelledError:
        cancelled = True
        await _wait_out(task)
        if not task.cancelled() and task.exception() is None:
            saved = task.result()
            if saved is not None:
                raise CancelledAfterSave(saved) from None
        raise
    if record is None:  # only when aborted, which needs a cancellation
        raise RuntimeError("the turn was rolled back without a cancellation")
    return record
