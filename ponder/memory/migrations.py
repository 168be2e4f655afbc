"""A small versioned migration runner for the memory schema.

The database records applied steps in ``ponder_schema_version`` (one row per
version). :func:`migrate` runs at store open, in one transaction that first
takes a database-wide write lock (``BEGIN IMMEDIATE`` on SQLite, a transaction
advisory lock on PostgreSQL), so two processes opening a fresh database at
once apply each step exactly once.

Adding a step: append ``Migration(N + 1, "what changes", _vN_plus_1)`` to
:data:`MIGRATIONS`, where the function takes a synchronous SQLAlchemy
``Connection`` and issues the DDL/DML for that change (``op``-style, e.g.
``conn.execute(text("ALTER TABLE turns ADD COLUMN ..."))``) portable to both
SQLite and PostgreSQL. Then update the tables in :mod:`ponder.memory.models`
to match; ``tests/memory/test_migrations.py`` checks the two agree. Never
edit a released step: databases in the field have already run it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from ponder.memory.models import UTCDateTime

__all__ = ["MIGRATIONS", "VERSION_TABLE", "Migration", "SchemaVersionError", "migrate"]

VERSION_TABLE = "ponder_schema_version"
_PG_LOCK_KEY = 0x706F6E646572  # "ponder": the advisory lock that serialises migrations


class SchemaVersionError(RuntimeError):
    """The database schema cannot be used by this version of ponder."""


@dataclass(frozen=True)
class Migration:
    """One schema step: ``apply`` runs inside the migration transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


_version_table = Table(
    VERSION_TABLE,
    MetaData(),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)


def _v1_threads_and_turns(conn: Connection) -> None:
    # A frozen snapshot of the version-1 tables; later steps alter them.
    meta = MetaData()
    Table(
        "threads",
        meta,
        Column("id", String(200), primary_key=True),
        Column("title", Text),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    Table(
        "turns",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column(
            "thread_id",
            String(200),
            ForeignKey("threads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("idx", Integer, nullable=False),
        Column("question", Text, nullable=False),
        Column("answer", Text, nullable=False),
        Column("tool_calls", JSON, nullable=False),
        Column("model", Text),
        Column("usage", JSON, nullable=False),
        Column("started_at", UTCDateTime, nullable=False),
        Column("finished_at", UTCDateTime, nullable=False),
        UniqueConstraint("thread_id", "idx", name="uq_turns_thread_idx"),
    )
    meta.create_all(conn)


def _v2_durable_runs(conn: Connection) -> None:
    # Runs (leases, status), the kept stream events of each run, and the run a
    # turn came from (unique: a resumed run stores its turn once).
    meta = MetaData()
    Table(
        "runs",
        meta,
        Column("run_id", String(64), primary_key=True),
        Column("thread_id", String(200), nullable=False, index=True),
        Column("agent", Text),
        Column("question", Text, nullable=False),
        Column("status", String(32), nullable=False, index=True),
        Column("owner", Text),
        Column("lease_expires_at", UTCDateTime),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    Table(
        "run_events",
        meta,
        Column("run_id", String(64), primary_key=True),
        Column("seq", Integer, primary_key=True, autoincrement=False),
        Column("event", String(40), nullable=False),
        Column("data", Text, nullable=False),
    )
    meta.create_all(conn)
    conn.execute(text("ALTER TABLE turns ADD COLUMN run_id VARCHAR(64)"))
    conn.execute(text("CREATE UNIQUE INDEX uq_turns_run_id ON turns (run_id)"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "threads and turns", _v1_threads_and_turns),
    Migration(2, "durable runs: runs, run_events, turns.run_id", _v2_durable_runs),
)


def _check_sequence(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        raise ValueError(f"migration versions must be 1..N in order, got {versions}")


def _apply_pending(conn: Connection, migrations: Sequence[Migration]) -> int:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    _version_table.create(conn, checkfirst=True)
    current = conn.execute(select(func.max(_version_table.c.version))).scalar_one_or_none() or 0
    latest = len(migrations)
    if current > latest:
        raise SchemaVersionError(
            f"database schema is at version {current}, newer than this ponder knows "
            f"({latest}); upgrade ponder"
        )
    for step in migrations[current:]:
        step.apply(conn)
        conn.execute(
            insert(_version_table).values(
                version=step.version, description=step.description, applied_at=datetime.now(UTC)
            )
        )
    return max(current, latest)


async def migrate(engine: AsyncEngine, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database to the latest version in ``migrations``; return that version.

    ``engine`` must start write transactions (``BEGIN IMMEDIATE`` on SQLite),
    as the store's write engine does.
    """
    _check_sequence(migrations)
    async with engine.begin() as conn:
        return await conn.run_sync(_apply_pending, migrations)
