"""The tool call being run, for tools with side effects: :func:`current_tool_call`.

Resuming a run after a crash is *at-least-once* for a tool call that was in
flight when the process died: its result was never checkpointed, so the
resumed run calls it again (a call whose result was saved is never repeated).
A tool that sends mail or charges a card can make the repeat harmless with
:attr:`ToolCallContext.idempotency_key`, which is the same for both
executions of one call (e.g. as the ``Idempotency-Key`` of an HTTP API, or a
unique key in the tool's own table).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from dataclasses import dataclass

from ponder.backends.types import ToolCall
from ponder.tools.toolbox import ToolBox, ToolResult

__all__ = ["ToolCallContext", "current_tool_call", "run_tool_call", "run_tool_calls"]


@dataclass(frozen=True)
class ToolCallContext:
    """Which call of which run a tool is executing."""

    run_id: str
    """The run (``RunResult.run_id`` of a durable run; a run without checkpoints has its own id)."""
    step: int
    """The model step whose reply asked for the call (1 for the first)."""
    call_id: str
    """The model's id for the call."""
    tool_name: str

    @property
    def idempotency_key(self) -> str:
        """``"{run_id}:{step}:{call_id}"``: the same when a resumed run repeats this call."""
        return f"{self.run_id}:{self.step}:{self.call_id}"


_CURRENT: contextvars.ContextVar[ToolCallContext | None] = contextvars.ContextVar(
    "ponder_tool_call", default=None
)


def current_tool_call() -> ToolCallContext | None:
    """The call being executed, inside a tool run by an agent; ``None`` anywhere else.

    Sync tools see it too (they run in a thread with a copy of the context).
    """
    return _CURRENT.get()


async def run_tool_call(toolbox: ToolBox, call: ToolCall, *, run_id: str, step: int) -> ToolResult:
    """``toolbox.run(call)`` with :func:`current_tool_call` set for the tool."""
    token = _CURRENT.set(ToolCallContext(run_id, step, call.id, call.name))
    try:
        return await toolbox.run(call)
    finally:
        _CURRENT.reset(token)


async def run_tool_calls(
    toolbox: ToolBox, calls: Sequence[ToolCall], *, run_id: str, step: int
) -> list[ToolResult]:
    """:meth:`ToolBox.run_all` with :func:`current_tool_call` set for each call."""
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(run_tool_call(toolbox, call, run_id=run_id, step=step))
            for call in calls
        ]
    return [task.result() for task in tasks]
