"""The redacting PostgreSQL saver; imported lazily (needs the ``postgres`` extra)."""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres import _ainternal
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncCursor
from psycopg.rows import DictRow, dict_row

from ponder.memory.checkpoint import RedactingSaverMixin
from ponder.memory.fencing import PG_FENCE_SQL, LeaseLost, taken_over

__all__ = ["RedactingAsyncPostgresSaver"]

_WRITING: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ponder_pg_fenced_write", default=None
)
"""The run whose checkpoint write is under way in this task (read by ``_cursor``)."""


class RedactingAsyncPostgresSaver(RedactingSaverMixin, AsyncPostgresSaver):
    """``AsyncPostgresSaver`` that redacts checkpoints (inline JSONB values too) and writes.

    A fenced write runs in one transaction that first locks the run's row
    (``FOR SHARE``) and checks its owner, pipelined with LangGraph's statements.
    """

    @asynccontextmanager
    async def _fenced(self, config: RunnableConfig) -> AsyncIterator[None]:
        if self.fence_owner is None:
            yield
            return
        token = _WRITING.set(str(config["configurable"]["thread_id"]))
        try:
            yield
        finally:
            _WRITING.reset(token)

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        run_id, owner = _WRITING.get(), self.fence_owner
        if run_id is None or owner is None or not pipeline:  # reads, unfenced writes
            async with super()._cursor(pipeline=pipeline) as cur:
                yield cur
            return
        async with self.lock, _ainternal.get_connection(self.conn) as conn, AsyncExitStack() as on:
            if self.supports_pipeline:
                await on.enter_async_context(conn.pipeline())
            await on.enter_async_context(conn.transaction())
            cur = await on.enter_async_context(conn.cursor(binary=True, row_factory=dict_row))
            await cur.execute(PG_FENCE_SQL, (run_id,))
            row = await cur.fetchone()
            if row is not None and taken_over(row["owner"], row["status"], owner):
                raise LeaseLost(run_id)  # the transaction rolls back: nothing is written
            yield cur
