"""LangGraph checkpointers that never write reasoning.

:class:`RedactingSerializer` wraps any LangGraph serializer and runs
:func:`~ponder.memory.redaction.redact` over whatever it is asked to dump.
A serializer alone is not enough: LangGraph's PostgreSQL saver stores
primitive channel values inline as JSONB without calling the serializer, and
no saver shows the serializer the *channel name* of a pending write. So the
factories here also yield savers that redact at ``aput``/``aput_writes``:
channel values and writes are redacted, and channels named like reasoning
(``reasoning``, ``reasoning_content``, …) are dropped from checkpoints and
written as ``None``.

Given the run ledger (``fence=``), a saver also fences its writes: a write
for a run another worker took over is rolled back and raises
:class:`~ponder.memory.fencing.LeaseLost` (:mod:`ponder.memory.fencing`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import aiosqlite
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from ponder.memory import store
from ponder.memory.fencing import FENCE_ERROR, SQLITE_FENCE_SETUP, LeaseLost
from ponder.memory.redaction import REASONING_KEYS, redact

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    from ponder.memory.runs import RunLedger

__all__ = [
    "RedactingAsyncSqliteSaver",
    "RedactingSerializer",
    "postgres_checkpointer",
    "redact_checkpoint",
    "redact_writes",
    "sqlite_checkpointer",
]


CHECKPOINT_TYPES: tuple[tuple[str, str], ...] = (
    *(
        ("ponder.backends.types", name)
        for name in ("SystemMessage", "UserMessage", "AssistantMessage", "ToolMessage")
    ),
    ("ponder.backends.types", "ToolCall"),
    ("ponder.backends.types", "Usage"),
    ("ponder.graphs.react", "ToolRecord"),
    ("ponder.graphs.debug_sandbox", "CommandRun"),
    *(("ponder.graphs.debug", name) for name in ("ProposedFix", "PatchAttempt", "DebugReport")),
)
"""The ponder types a run's checkpoint holds: LangGraph loads these (and its own) only."""


class RedactingSerializer(SerializerProtocol):
    """A serializer that strips reasoning before delegating to ``inner``.

    ``inner`` defaults to LangGraph's ``JsonPlusSerializer`` allowed to load
    :data:`CHECKPOINT_TYPES` besides its own safe types. Loading is delegated
    unchanged.
    """

    def __init__(self, inner: SerializerProtocol | None = None) -> None:
        self._inner: SerializerProtocol = (
            inner
            if inner is not None
            else JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)
        )

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return self._inner.dumps_typed(_redact_payload(obj))

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self._inner.loads_typed(data)


def redact_checkpoint(checkpoint: Checkpoint) -> Checkpoint:
    """A copy of ``checkpoint`` whose channel values hold no reasoning.

    Bookkeeping (ids, channel versions) is kept as is: it holds no message text.
    """
    values = {
        name: redact(value)
        for name, value in checkpoint["channel_values"].items()
        if name not in REASONING_KEYS
    }
    return {**checkpoint, "channel_values": values}


def redact_writes(writes: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Pending writes with reasoning removed; writes to reasoning channels become ``None``."""
    return [
        (channel, None if channel in REASONING_KEYS else redact(value)) for channel, value in writes
    ]


def _redact_payload(obj: Any) -> Any:
    if isinstance(obj, dict) and "channel_values" in obj and "channel_versions" in obj:
        return {**obj, "channel_values": redact_checkpoint(obj)["channel_values"]}  # type: ignore[arg-type]
    return redact(obj)


class RedactingSaverMixin(BaseCheckpointSaver[str]):
    """Redacts checkpoints, metadata and pending writes before the saver stores them.

    Put it before a concrete saver class: ``class S(RedactingSaverMixin, AsyncSqliteSaver)``.
    With :attr:`fence_owner` set, each write runs inside :meth:`_fenced`.
    """

    fence_owner: str | None = None
    """The ledger owner whose runs this saver writes; ``None``: writes are not fenced."""

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        async with self._fenced(config):
            return await super().aput(
                config, redact_checkpoint(checkpoint), redact(metadata), new_versions
            )

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        async with self._fenced(config):
            await super().aput_writes(config, redact_writes(writes), task_id, task_path)

    def _fenced(self, config: RunnableConfig) -> AbstractAsyncContextManager[None]:
        """Around one write: turns the database's refusal into :class:`LeaseLost`."""
        return nullcontext()


class RedactingAsyncSqliteSaver(RedactingSaverMixin, AsyncSqliteSaver):
    """``AsyncSqliteSaver`` that redacts checkpoints, metadata and writes before storing.

    Fenced writes are refused by ``TEMP`` triggers on its connection
    (:func:`fence_sqlite_connection`).
    """

    @asynccontextmanager
    async def _fenced(self, config: RunnableConfig) -> AsyncIterator[None]:
        try:
            yield
        except sqlite3.IntegrityError as exc:
            if FENCE_ERROR not in str(exc):
                raise
            async with self.lock:  # the aborted INSERT left its transaction open
                if self.conn.in_transaction:
                    await self.conn.rollback()
            raise LeaseLost(str(config["configurable"]["thread_id"])) from None


async def fence_sqlite_connection(conn: aiosqlite.Connection, owner: str) -> None:
    """Refuse, on ``conn``, checkpoint writes for runs ``owner`` no longer holds.

    The memory's ``runs`` table must be in the same database file.
    """
    for statement in SQLITE_FENCE_SETUP:
        await conn.execute(statement)
    await conn.execute("DELETE FROM temp.ponder_fence_owner")
    await conn.execute("INSERT INTO temp.ponder_fence_owner (owner) VALUES (?)", (owner,))
    await conn.commit()


@asynccontextmanager
async def sqlite_checkpointer(
    path: str | Path, *, fence: RunLedger | None = None
) -> AsyncIterator[AsyncSqliteSaver]:
    """A ready (set-up) redacting SQLite checkpointer on the file ``path``.

    With ``fence`` (the ledger of a memory on the same file), a write for a
    run this ledger lost to another worker raises :class:`LeaseLost` and
    writes nothing.
    """
    if fence is not None:
        await fence.store.ensure_schema()
    file = await asyncio.to_thread(_prepare_sqlite_file, path)
    async with aiosqlite.connect(file) as conn:
        # WAL with synchronous=NORMAL: a commit survives the process being killed
        # (only a power cut may lose the last ones) without an fsync per write.
        await conn.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        saver = RedactingAsyncSqliteSaver(conn, serde=RedactingSerializer())
        await saver.setup()
        if fence is not None:
            await fence_sqlite_connection(conn, fence.owner)
            saver.fence_owner = fence.owner
        try:
            yield saver
        finally:
            # A cancelled run's last write (LangGraph's loop does not wait for it) may
            # still be under way: closing between its INSERT and its COMMIT would
            # leave SQLite's write lock held. The saver's operations hold its lock.
            async with saver.lock:
                pass


@asynccontextmanager
async def postgres_checkpointer(
    url: str, *, synchronous_commit: bool = False, fence: RunLedger | None = None
) -> AsyncIterator[AsyncPostgresSaver]:
    """A ready (set-up) redacting PostgreSQL checkpointer.

    ``url`` may be a libpq URL or a SQLAlchemy one (``postgresql+psycopg://``).
    Needs the ``postgres`` extra (``langgraph-checkpoint-postgres``).

    Its connection commits with ``synchronous_commit = off`` unless asked
    otherwise: a checkpoint then survives the worker's crash (kill -9), the
    case it exists for, without waiting for a WAL flush per step, the same
    promise as SQLite's ``synchronous = NORMAL`` here. A crash of the database
    server itself may lose the last fraction of a second of checkpoints (never
    corrupts them); those runs resume from an earlier step. The memory's own
    writes (turns, the run ledger) keep full synchronous commits.

    With ``fence`` (the ledger of a memory in the same database), a write for
    a run this ledger lost to another worker raises :class:`LeaseLost` and
    writes nothing.
    """
    try:
        import psycopg

        from ponder.memory._postgres_checkpoint import RedactingAsyncPostgresSaver
    except ImportError as exc:
        raise ImportError(
            "postgres_checkpointer needs langgraph-checkpoint-postgres: "
            "pip install 'ponder[postgres]'"
        ) from exc
    libpq = _libpq_url(url)
    if fence is not None:
        await fence.store.ensure_schema()
    async with RedactingAsyncPostgresSaver.from_conn_string(
        libpq, serde=RedactingSerializer()
    ) as saver:
        if isinstance(saver.conn, psycopg.AsyncConnection):
            timeout_ms = store.STALLED_TRANSACTION_TIMEOUT_MS  # a stalled worker's locks
            await saver.conn.execute(f"SET idle_in_transaction_session_timeout = {timeout_ms}")
            if not synchronous_commit:
                await saver.conn.execute("SET synchronous_commit = off")
        if libpq not in _PG_READY:
            await _setup_once(saver, libpq)
            _PG_READY.add(libpq)
        if fence is not None:
            cast(RedactingAsyncPostgresSaver, saver).fence_owner = fence.owner
        yield saver


_SQLITE_BUSY_TIMEOUT_MS = 30_000
_PG_READY: set[str] = set()
_PG_SETUP_ATTEMPTS = 5


async def _setup_once(saver: AsyncPostgresSaver, libpq: str) -> None:
    """``saver.setup()``, retried: setups racing in other processes collide on CREATE.

    (An advisory lock would deadlock: LangGraph builds indexes CONCURRENTLY,
    which waits for every open transaction, the lock's waiters included.)
    """
    import psycopg

    async with _pg_setup_lock():
        if libpq in _PG_READY:
            return
        for attempt in range(_PG_SETUP_ATTEMPTS):
            try:
                await saver.setup()
                return
            except psycopg.Error:
                if attempt == _PG_SETUP_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))


_setup_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _pg_setup_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _setup_locks.get(loop)
    if lock is None:
        lock = _setup_locks[loop] = asyncio.Lock()
    return lock


def _prepare_sqlite_file(path: str | Path) -> str:
    file = Path(path).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True)
    return str(file)


def _libpq_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError("postgres_checkpointer needs a postgresql:// URL")
    return f"postgresql://{rest}"
