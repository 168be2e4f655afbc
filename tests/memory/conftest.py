"""Fixtures: ``backend`` (SQLite and PostgreSQL) and an open ``store`` on it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from memory.conformance import (
    Backend,
    PostgresBackend,
    SQLiteBackend,
    create_pg_schema,
    drop_pg_schema,
)
from ponder.memory import MemoryStore

PG_ENV = "PONDER_TEST_POSTGRES_URL"


@pytest.fixture
def pg_url() -> str:
    """The PostgreSQL server URL; skipped without one, except under CI where that fails."""
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {PG_ENV} is not: the PostgreSQL tests must run in CI")
    pytest.skip(reason=f"{PG_ENV} is not set; no PostgreSQL server to test against")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield SQLiteBackend(tmp_path / "data" / "memory.db")
        return
    base = request.getfixturevalue("pg_url")
    schema = create_pg_schema(base)
    try:
        yield PostgresBackend(base, schema)
    finally:
        drop_pg_schema(base, schema)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[MemoryStore]:
    opened = backend.open()
    try:
        yield opened
    finally:
        await opened.aclose()
