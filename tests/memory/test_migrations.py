"""The migration runner on every backend: fresh install, upgrade, rollback, races."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Connection, inspect, text

from memory.conformance import Backend, turn_times
from ponder.memory import MIGRATIONS, MemoryStore, Migration, SchemaVersionError
from ponder.memory.migrations import VERSION_TABLE
from ponder.memory.models import Base


def _columns(conn: Connection) -> dict[str, set[str]]:
    inspector = inspect(conn)
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}


async def _schema(store: MemoryStore) -> dict[str, set[str]]:
    async with store.engine.connect() as conn:
        return await conn.run_sync(_columns)


def _add_rating(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE turns ADD COLUMN rating INTEGER"))


def _add_rating_then_fail(conn: Connection) -> None:
    _add_rating(conn)
    raise RuntimeError("step 2 broke")


NEXT = len(MIGRATIONS) + 1
V2 = (*MIGRATIONS, Migration(NEXT, "turns.rating", _add_rating))


async def test_fresh_database_matches_the_models(store: MemoryStore, backend: Backend) -> None:
    assert not await store.thread_exists("x")  # first use migrates
    schema = await _schema(store)
    for table in Base.metadata.sorted_tables:
        assert schema[table.name] == {c.name for c in table.columns}
    assert await backend.table_rows(VERSION_TABLE) == len(MIGRATIONS)


async def test_upgrade_from_version_1_keeps_data(backend: Backend) -> None:
    v1 = backend.open()
    await v1.add_turn("t", question="before", answer="upgrade", **turn_times())
    await v1.aclose()

    v2 = backend.open(migrations=V2)
    try:
        [turn] = await v2.turns("t")
        assert (turn.question, turn.answer) == ("before", "upgrade")
        assert "rating" in (await _schema(v2))["turns"]
        assert (await v2.add_turn("t", question="after", answer="ok", **turn_times(1))).index == 1
    finally:
        await v2.aclose()
    assert await backend.table_rows(VERSION_TABLE) == NEXT

    old = backend.open()
    try:
        with pytest.raises(SchemaVersionError, match=f"version {NEXT}"):
            await old.turns("t")
    finally:
        await old.aclose()


async def test_failed_step_rolls_back_whole_migration(backend: Backend) -> None:
    v1 = backend.open()
    await v1.add_turn("t", question="q", answer="a", **turn_times())
    await v1.aclose()

    broken = backend.open(
        migrations=(*MIGRATIONS, Migration(NEXT, "broken", _add_rating_then_fail))
    )
    try:
        with pytest.raises(RuntimeError, match="step 2 broke"):
            await broken.turns("t")
    finally:
        await broken.aclose()

    again = backend.open()
    try:
        assert "rating" not in (await _schema(again))["turns"]
        assert len(await again.turns("t")) == 1
    finally:
        await again.aclose()
    assert await backend.table_rows(VERSION_TABLE) == len(MIGRATIONS)


async def test_two_stores_opening_at_once_migrate_once(backend: Backend) -> None:
    stores = [backend.open(migrations=V2) for _ in range(4)]
    try:
        await asyncio.gather(*(s.thread_exists("x") for s in stores))
    finally:
        for s in stores:
            await s.aclose()
    assert await backend.table_rows(VERSION_TABLE) == NEXT


@pytest.mark.parametrize("versions", [(2,), (1, 3), (1, 1)])
async def test_migration_list_must_be_consecutive(backend: Backend, versions: tuple[int]) -> None:
    steps = [Migration(v, "step", _add_rating) for v in versions]
    store = backend.open(migrations=steps)
    try:
        with pytest.raises(ValueError, match=r"1\.\.N"):
            await store.thread_exists("x")
    finally:
        await store.aclose()
