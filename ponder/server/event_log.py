"""The kept SSE events of each run, in the memory database, for ``Last-Event-ID`` reconnects.

Kept: every event but reasoning (run start, answer deltas, tool calls and
results, approvals, usage, final, error). Reasoning events are never written;
a client that reconnects is told so with a ``reasoning_gone`` event. Answer
deltas are written in small batches; every other event is written before it
is sent, so what a reconnecting client replays from any worker is what the
first client was sent.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import func, insert, select

from ponder.memory import MemoryStore, redact
from ponder.memory.models import RunEventRow

__all__ = ["TERMINAL_EVENTS", "EventLog"]

TERMINAL_EVENTS = frozenset({"final", "error"})
_BATCHED = frozenset({"answer_delta", "usage"})
_FLUSH_AFTER_S = 0.25


class EventLog:
    """Appends and reads the kept events of runs."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def writer(self, run_id: str) -> EventWriter:
        return EventWriter(self._store, run_id)

    async def last_seq(self, run_id: str) -> int:
        await self._store.ensure_schema()
        async with self._store.engine.connect() as conn:
            value = await conn.scalar(
                select(func.max(RunEventRow.seq)).where(RunEventRow.run_id == run_id)
            )
        return int(value or 0)

    async def after(self, run_id: str, seq: int) -> list[tuple[int, str, dict[str, Any]]]:
        """The kept events of ``run_id`` with ids above ``seq``, in order."""
        await self._store.ensure_schema()
        stmt = (
            select(RunEventRow.seq, RunEventRow.event, RunEventRow.data)
            .where(RunEventRow.run_id == run_id, RunEventRow.seq > seq)
            .order_by(RunEventRow.seq)
        )
        async with self._store.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [(row.seq, row.event, json.loads(row.data)) for row in rows]


class EventWriter:
    """The events of one run stream, buffered for answer deltas."""

    def __init__(self, store: MemoryStore, run_id: str) -> None:
        self._store = store
        self._run_id = run_id
        self._buffer: list[dict[str, Any]] = []
        self._since = time.monotonic()

    async def add(self, seq: int, event: str, data: dict[str, Any]) -> None:
        """Keep one event (never call this with reasoning)."""
        text = json.dumps(redact(data), ensure_ascii=False)
        self._buffer.append({"run_id": self._run_id, "seq": seq, "event": event, "data": text})
        if event not in _BATCHED or time.monotonic() - self._since > _FLUSH_AFTER_S:
            await self.flush()

    async def flush(self) -> None:
        rows, self._buffer = self._buffer, []
        self._since = time.monotonic()
        if not rows:
            return
        await self._store.ensure_schema()
        async with self._store.write_engine.begin() as conn:
            await conn.execute(insert(RunEventRow), rows)
