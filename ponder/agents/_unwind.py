"""Cancel a task once and wait until it has unwound, whatever happens to the waiter.

A run's work lives in tasks (the agent's producer, the server's frame pump)
whose clean-up takes several event-loop turns: LangGraph cancels its node
tasks and waits for them, a tool or a model stream closes. A second
cancellation that reaches such a task mid clean-up cuts the clean-up short;
LangGraph then abandons node tasks it never cancelled, and a tool or a model
stream goes on running. ``asyncio.gather(task)`` forwards every cancellation
of its waiter to ``task``, and anyio (Starlette's disconnect handling)
cancels a waiter again and again until it returns, so waiting with
``gather`` is not enough. :func:`cancel_and_wait` cancels exactly once and
never forwards another.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` (once) and wait until it is done.

    Cancellations of the caller while it waits are not passed on to ``task``;
    the caller gets one :class:`asyncio.CancelledError` once ``task`` is done.
    ``task``'s own outcome is retrieved and dropped.
    """
    task.cancel()
    interrupted = False
    while not task.done():
        try:
            await asyncio.wait((task,))  # unlike gather, never cancels what it waits on
        except asyncio.CancelledError:
            interrupted = True
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never seen
    if interrupted:
        raise asyncio.CancelledError
