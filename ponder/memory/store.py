"""The memory store: threads of finished turns in SQLite or PostgreSQL.

One code path serves both databases through SQLAlchemy's asyncio engine
(``aiosqlite`` for SQLite, psycopg 3 for PostgreSQL). Only final answers are
stored; text carrying reasoning markers is refused with
:class:`~ponder.memory.redaction.ReasoningLeakError`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ponder.backends.types import AssistantMessage, UserMessage
from ponder.backends.wellformed import well_formed
from ponder.memory._uninterrupted import run_to_end, save_unless_cancelled
from ponder.memory.migrations import MIGRATIONS, Migration, migrate
from ponder.memory.models import (
    THREAD_ID_MAX,
    ThreadInfo,
    ThreadRow,
    ToolCallSummary,
    TurnRecord,
    TurnRow,
)
from ponder.memory.redaction import ReasoningLeakError, contains_reasoning, has_reasoning_keys

__all__ = ["MemoryStore", "default_sqlite_path"]

_WRITE = "ponder_write"  # execution option: begin with BEGIN IMMEDIATE on SQLite
_SQLITE_BUSY_TIMEOUT_MS = 30_000
_WAL_SWITCH_ATTEMPTS = 50
_TITLE_MAX = 80
_URL_HINT = "expected sqlite:///path/to/memory.db or postgresql+psycopg://user@host/dbname"


def default_sqlite_path() -> Path:
    """Where :meth:`MemoryStore.from_url` keeps its SQLite file when given no URL."""
    return Path(platformdirs.user_data_dir("ponder")) / "memory.db"


class MemoryStore:
    """Threads of question/final-answer turns. Create with :meth:`from_url`.

    The schema is migrated on first use. Every method is safe to call from
    many tasks at once; ``add_turn`` is one transaction. A cancelled call
    lets its database work finish (or roll back) before it re-raises, so it
    never leaves a connection half-closed or a write lock held.
    """

    def __init__(
        self, engine: AsyncEngine, *, migrations: Sequence[Migration] = MIGRATIONS
    ) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{_WRITE: True})
        self._migrations = tuple(migrations)
        self._schema_version: int | None = None
        self._open_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    def from_url(
        cls, url: str | None = None, *, migrations: Sequence[Migration] = MIGRATIONS
    ) -> MemoryStore:
        """Open a store; ``None`` means a SQLite file in the user data folder.

        Accepts ``sqlite:///…`` / ``sqlite+aiosqlite:///…`` and
        ``postgresql://…`` / ``postgresql+psycopg://…``. Raises ``ValueError``
        for anything else (the message never repeats a password).
        """
        if url is None:
            url = f"sqlite+aiosqlite:///{default_sqlite_path()}"
        return cls(_create_engine(_normalise_url(url)), migrations=migrations)

    @property
    def engine(self) -> AsyncEngine:
        """The underlying SQLAlchemy engine (for inspection and tests)."""
        return self._engine

    @property
    def write_engine(self) -> AsyncEngine:
        """The engine for write transactions (``BEGIN IMMEDIATE`` on SQLite)."""
        return self._writer

    async def ensure_schema(self) -> None:
        """Migrate the database now (otherwise the first use does)."""
        await self._ready()

    # ------------------------------------------------------------ threads

    async def create_thread(self, *, title: str | None = None, thread_id: str | None = None) -> str:
        """Create an empty thread and return its id; ``ValueError`` if the id is taken."""
        tid = _check_thread_id(thread_id) if thread_id is not None else uuid.uuid4().hex
        if title is not None:
            _refuse_reasoning("title", title)
            title = _storable(title)
        await self._ready()
        if await run_to_end(self._create_thread(tid, title)) is None:
            raise ValueError(f"thread {tid!r} already exists")
        return tid

    async def _create_thread(self, tid: str, title: str | None) -> str | None:
        async with self._writer.begin() as conn:
            created: str | None = await conn.scalar(
                self._insert_thread_ignoring_conflict(tid, title, datetime.now(UTC)).returning(
                    ThreadRow.id
                )
            )
        return created

    async def thread_exists(self, thread_id: str) -> bool:
        await self._ready()
        stmt = select(ThreadRow.id).where(ThreadRow.id == thread_id)
        return await run_to_end(self._read_scalar(stmt)) is not None

    async def list_threads(self, *, limit: int = 100) -> list[ThreadInfo]:
        """Threads, most recently updated first."""
        if limit < 0:
            raise ValueError("limit must be >= 0")
        await self._ready()
        counts = (
            select(TurnRow.thread_id, func.count().label("n"))
            .group_by(TurnRow.thread_id)
            .subquery()
        )
        stmt = (
            select(ThreadRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.thread_id == ThreadRow.id)
            .order_by(ThreadRow.updated_at.desc(), ThreadRow.id)
            .limit(limit)
        )
        rows = await run_to_end(self._read_rows(stmt))
        return [
            ThreadInfo(
                id=row.id,
                title=row.title,
                created_at=row.created_at,
                updated_at=row.updated_at,
                turn_count=row[-1],
            )
            for row in rows
        ]

    async def delete_thread(self, thread_id: str) -> bool:
        """Delete a thread and its turns; ``False`` when there was no such thread."""
        await self._ready()
        return await run_to_end(self._delete_thread(thread_id))

    async def _delete_thread(self, thread_id: str) -> bool:
        async with self._writer.begin() as conn:
            result = await conn.execute(delete(ThreadRow).where(ThreadRow.id == thread_id))
        return bool(result.rowcount == 1)

    # -------------------------------------------------------------- turns

    async def add_turn(
        self,
        thread_id: str,
        *,
        question: str,
        answer: str,
        tool_calls: Sequence[ToolCallSummary] = (),
        model: str | None = None,
        usage: Mapping[str, int] | None = None,
        started_at: datetime,
        finished_at: datetime,
        run_id: str | None = None,
    ) -> TurnRecord:
        """Append a finished turn, creating the thread if missing, in one transaction.

        With ``run_id``, a second call for the same run stores nothing and
        returns the turn already stored (a resumed run saves its turn once).
        Raises :class:`ReasoningLeakError` when any text carries reasoning
        markers, ``ValueError`` for other bad input. On any failure nothing is
        written. A cancelled call never leaves a half-written turn: cancelled
        before the commit, it writes nothing and raises
        :class:`asyncio.CancelledError`; cancelled while or after committing,
        it raises :class:`~ponder.memory.CancelledAfterSave` carrying the
        stored record.
        """
        _check_thread_id(thread_id)
        fields = _validated_turn(
            question, answer, tool_calls, model, usage, started_at, finished_at
        )
        await self._ready()

        async def write(aborted: Callable[[], bool]) -> TurnRecord | None:
            async with self._writer.connect() as conn, conn.begin() as transaction:
                index = await self._insert_turn(conn, thread_id, fields, model, run_id)
                if isinstance(index, TurnRecord):  # this run's turn is already stored
                    return index
                if aborted():
                    await transaction.rollback()
                    return None
            return TurnRecord(thread_id=thread_id, index=index, model=model, **fields)

        return await save_unless_cancelled(write)

    async def _insert_turn(
        self,
        conn: AsyncConnection,
        thread_id: str,
        fields: dict[str, Any],
        model: str | None,
        run_id: str | None,
    ) -> int | TurnRecord:
        now = datetime.now(UTC)
        await conn.execute(
            self._insert_thread_ignoring_conflict(thread_id, _title_from(fields["question"]), now)
        )
        # Serialise writers of this thread (a no-op clause on SQLite, where
        # BEGIN IMMEDIATE already holds the database write lock).
        await conn.execute(select(ThreadRow.id).where(ThreadRow.id == thread_id).with_for_update())
        if run_id is not None:
            stored = (await conn.execute(select(TurnRow).where(TurnRow.run_id == run_id))).first()
            if stored is not None:
                return _record(stored)
        index = await _next_index(conn, thread_id)
        await conn.execute(
            insert(TurnRow).values(
                thread_id=thread_id,
                idx=index,
                question=fields["question"],
                answer=fields["answer"],
                tool_calls=[tc.model_dump() for tc in fields["tool_calls"]],
                model=model,
                usage=fields["usage"],
                started_at=fields["started_at"],
                finished_at=fields["finished_at"],
                run_id=run_id,
            )
        )
        await conn.execute(
            update(ThreadRow).where(ThreadRow.id == thread_id).values(updated_at=datetime.now(UTC))
        )
        return index

    async def turns(self, thread_id: str, *, last: int | None = None) -> list[TurnRecord]:
        """The thread's turns in order (the final ``last`` of them); ``[]`` for no thread."""
        if last is not None and last < 0:
            raise ValueError("last must be >= 0 or None")
        await self._ready()
        stmt = select(TurnRow).where(TurnRow.thread_id == thread_id).order_by(TurnRow.idx.desc())
        if last is not None:
            stmt = stmt.limit(last)
        rows = await run_to_end(self._read_rows(stmt))
        return [_record(row) for row in reversed(rows)]

    async def history_messages(
        self, thread_id: str, *, last: int | None = 20
    ) -> list[UserMessage | AssistantMessage]:
        """Collapsed history for the model: one user message and one final answer per turn."""
        messages: list[UserMessage | AssistantMessage] = []
        for turn in await self.turns(thread_id, last=last):
            messages.append(UserMessage(content=turn.question))
            messages.append(AssistantMessage(content=turn.answer))
        return messages

    async def aclose(self) -> None:
        """Close every pooled connection; the store cannot be used afterwards."""
        self._closed = True
        await run_to_end(self._engine.dispose())

    # ------------------------------------------------------------ helpers

    async def _ready(self) -> None:
        if self._closed:
            raise RuntimeError("this MemoryStore is closed")
        if self._schema_version is not None:
            return
        async with self._open_lock:
            if self._schema_version is None:
                self._schema_version = await run_to_end(migrate(self._writer, self._migrations))

    async def _read_rows(self, stmt: Any) -> list[Any]:
        async with self._engine.connect() as conn:
            return list((await conn.execute(stmt)).all())

    async def _read_scalar(self, stmt: Any) -> Any:
        async with self._engine.connect() as conn:
            return await conn.scalar(stmt)

    def _insert_thread_ignoring_conflict(
        self, thread_id: str, title: str | None, now: datetime
    ) -> Any:
        dialect_insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        return (
            dialect_insert(ThreadRow)
            .values(id=thread_id, title=title, created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["id"])
        )


async def _next_index(conn: AsyncConnection, thread_id: str) -> int:
    highest = await conn.scalar(select(func.max(TurnRow.idx)).where(TurnRow.thread_id == thread_id))
    return 0 if highest is None else int(highest) + 1


def _record(row: Any) -> TurnRecord:
    return TurnRecord(
        thread_id=row.thread_id,
        index=row.idx,
        question=row.question,
        answer=row.answer,
        tool_calls=[ToolCallSummary.model_validate(tc) for tc in row.tool_calls],
        model=row.model,
        usage=row.usage,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


# ------------------------------------------------------------- validation


def _refuse_reasoning(field: str, text: str, *, json_keys: bool = False) -> None:
    if contains_reasoning(text) or (json_keys and has_reasoning_keys(text)):
        raise ReasoningLeakError(
            f"{field} carries reasoning markers; only final answers may be stored "
            "(strip them with ponder.memory.strip_reasoning first)"
        )


def _check_thread_id(thread_id: str) -> str:
    if not isinstance(thread_id, str) or not thread_id.strip():
        raise ValueError("thread_id must be a non-empty string")
    if len(thread_id) > THREAD_ID_MAX or "\x00" in thread_id:
        raise ValueError(f"thread_id must be at most {THREAD_ID_MAX} characters, without NUL")
    return thread_id


def _validated_turn(
    question: str,
    answer: str,
    tool_calls: Sequence[ToolCallSummary],
    model: str | None,
    usage: Mapping[str, int] | None,
    started_at: datetime,
    finished_at: datetime,
) -> dict[str, Any]:
    for name, value in (("question", question), ("answer", answer)):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {type(value).__name__}")
        _refuse_reasoning(name, value)
    calls = list(tool_calls)
    for i, call in enumerate(calls):
        if not isinstance(call, ToolCallSummary):
            raise ValueError(f"tool_calls[{i}] must be a ToolCallSummary")
        _refuse_reasoning(f"tool_calls[{i}].name", call.name)
        _refuse_reasoning(f"tool_calls[{i}].arguments", call.arguments, json_keys=True)
        _refuse_reasoning(f"tool_calls[{i}].output_preview", call.output_preview, json_keys=True)
    if model is not None:
        _refuse_reasoning("model", model)
    usage_dict = dict(usage or {})
    for key, count in usage_dict.items():
        if not isinstance(key, str) or isinstance(count, bool) or not isinstance(count, int):
            raise ValueError("usage must map token-count names (str) to integers")
    for name, moment in (("started_at", started_at), ("finished_at", finished_at)):
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise ValueError(f"{name} must be a timezone-aware datetime")
    if finished_at < started_at:
        raise ValueError("finished_at is earlier than started_at")
    return {
        "question": _storable(question),
        "answer": _storable(answer),
        "tool_calls": [
            call.model_copy(
                update={
                    "name": _storable(call.name),
                    "arguments": _storable(call.arguments),
                    "output_preview": _storable(call.output_preview),
                }
            )
            for call in calls
        ],
        "usage": usage_dict,
        "started_at": started_at.astimezone(UTC),
        "finished_at": finished_at.astimezone(UTC),
    }


def _storable(text: str) -> str:
    """Text any database can hold: no NUL, no lone surrogate (U+FFFD in its place)."""
    return well_formed(text.replace("\x00", ""))


def _title_from(question: str) -> str | None:
    first_line = question.strip().split("\n", 1)[0].replace("\x00", "")
    if not first_line:
        return None
    return first_line if len(first_line) <= _TITLE_MAX else first_line[: _TITLE_MAX - 1] + "…"


# ------------------------------------------------------------------ engine


def _normalise_url(raw: str) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError(f"memory URL is not a database URL; {_URL_HINT}") from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise ValueError(f"unsupported database {backend!r}; {_URL_HINT}")
    driver = url.get_driver_name()
    if backend == "sqlite":
        if driver not in ("pysqlite", "aiosqlite"):
            raise ValueError(f"SQLite driver {driver!r} is not supported; use sqlite+aiosqlite")
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise ValueError(f"the memory store needs a SQLite file path; {_URL_HINT}")
        path = Path(url.database).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot create folder for SQLite file {path}: {exc}") from None
        return url.set(drivername="sqlite+aiosqlite", database=str(path))
    if driver not in ("psycopg2", "psycopg", "postgres"):
        raise ValueError(f"PostgreSQL driver {driver!r} is not supported; use postgresql+psycopg")
    if not url.host and "host" not in url.query:
        raise ValueError(f"PostgreSQL URL has no host; {_URL_HINT}")
    return url.set(drivername="postgresql+psycopg")


STALLED_TRANSACTION_TIMEOUT_MS = 10_000
"""PostgreSQL ends a session of ponder's left idle inside a transaction this long.

ponder's transactions take milliseconds; one left open is a stalled process
(SIGSTOP, a long pause, a partition) whose row locks would otherwise block
the worker taking over its run until the connection died.
"""


def _create_engine(url: URL) -> AsyncEngine:
    if url.get_backend_name() == "postgresql":
        pg_engine = create_async_engine(url, pool_pre_ping=True)
        event.listen(pg_engine.sync_engine, "connect", _postgres_on_connect)
        return pg_engine
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


def _postgres_on_connect(dbapi_connection: Any, _record: Any) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # the SET is not left in an open transaction
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(
            f"SET idle_in_transaction_session_timeout = {STALLED_TRANSACTION_TIMEOUT_MS}"
        )
    finally:
        cursor.close()
        dbapi_connection.autocommit = autocommit


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_on_begin) instead of sqlite3.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL once; WAL is persistent, so later opens only read it.

    Changing the journal mode needs a moment of exclusive access, and SQLite
    does not apply the busy timeout to it: when several processes open a new
    file at once, the switch is retried briefly instead of failing.
    """
    for attempt in range(_WAL_SWITCH_ATTEMPTS):
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:  # aiosqlite re-raises sqlite3's own errors
            if "locked" not in str(exc) or attempt == _WAL_SWITCH_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


def _sqlite_on_begin(conn: Connection) -> None:
    # Writers take the write lock up front, so two writers never deadlock on
    # a read-to-write upgrade; readers begin deferred and never block in WAL.
    immediate = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
