"""The storage backends the memory conformance suite runs on.

Every test in this folder that takes the ``backend`` fixture runs once per
backend (SQLite always; PostgreSQL when ``PONDER_TEST_POSTGRES_URL`` is set,
and always under ``CI``). A backend knows how to open a store, how to hold a
competing write lock, and how to dump every persisted byte for canary scans.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypedDict

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from ponder.memory import MIGRATIONS, MemoryStore, Migration, scan_files_for, sqlite_artifacts
from ponder.memory.audit import scan_bytes_for

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class TurnTimes(TypedDict):
    started_at: datetime
    finished_at: datetime


def turn_times(i: int = 0) -> TurnTimes:
    """``started_at``/``finished_at`` for the i-th test turn."""
    start = T0 + timedelta(minutes=i)
    return {"started_at": start, "finished_at": start + timedelta(seconds=3)}


class Backend(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...

    def open(self, migrations: Sequence[Migration] = MIGRATIONS) -> MemoryStore: ...

    def hold_write_lock(self, thread_id: str) -> Any:
        """Async context manager: another connection blocks writers of ``thread_id``."""

    async def contains(self, needle: str) -> bool:
        """True when ``needle`` occurs in any byte this backend has persisted."""

    async def table_rows(self, table: str) -> int: ...


@dataclass
class SQLiteBackend:
    path: Path
    name: str = "sqlite"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def open(self, migrations: Sequence[Migration] = MIGRATIONS) -> MemoryStore:
        return MemoryStore.from_url(self.url, migrations=migrations)

    @asynccontextmanager
    async def hold_write_lock(self, thread_id: str) -> AsyncIterator[None]:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("COMMIT")
        finally:
            conn.close()

    async def contains(self, needle: str) -> bool:
        return bool(scan_files_for(needle, sqlite_artifacts(self.path)))

    async def table_rows(self, table: str) -> int:
        with sqlite3.connect(self.path) as conn:
            (count,) = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        conn.close()
        return int(count)


@dataclass
class PostgresBackend:
    base_url: str
    schema: str
    name: str = "postgres"

    @property
    def url(self) -> str:
        url = make_url(self.base_url).update_query_dict({"options": f"-csearch_path={self.schema}"})
        return url.render_as_string(hide_password=False)

    @property
    def libpq_url(self) -> str:
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    def open(self, migrations: Sequence[Migration] = MIGRATIONS) -> MemoryStore:
        return MemoryStore.from_url(self.url, migrations=migrations)

    @asynccontextmanager
    async def hold_write_lock(self, thread_id: str) -> AsyncIterator[None]:
        async with await psycopg.AsyncConnection.connect(self.libpq_url) as conn:
            await conn.execute("SELECT 1 FROM threads WHERE id = %s FOR UPDATE", (thread_id,))
            yield
            await conn.commit()

    async def contains(self, needle: str) -> bool:
        return scan_bytes_for(needle, await self.dump())

    async def dump(self) -> bytes:
        """Every value of every row of every table in the schema (bytea values raw)."""
        parts: list[bytes] = []
        async with await psycopg.AsyncConnection.connect(self.libpq_url) as conn:
            tables = await conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (self.schema,),
            )
            for (table,) in await tables.fetchall():
                rows = await conn.execute(
                    sql.SQL("SELECT * FROM {}").format(sql.Identifier(self.schema, table))
                )
                for row in await rows.fetchall():
                    parts.extend(v if isinstance(v, bytes) else str(v).encode() for v in row)
        return b"\n".join(parts)

    async def table_rows(self, table: str) -> int:
        async with await psycopg.AsyncConnection.connect(self.libpq_url) as conn:
            cur = await conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(self.schema, table))
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])


def create_pg_schema(base_url: str) -> str:
    """A fresh, uniquely named schema for one test."""
    schema = f"ponder_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(base_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return schema


def drop_pg_schema(base_url: str, schema: str) -> None:
    with psycopg.connect(_libpq(base_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
