"""Opening a store from a URL: accepted forms, clear errors, no password echoed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from memory.conformance import turn_times
from ponder.memory import MemoryStore, default_sqlite_path


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL"),
        ("mysql://app:hunter2secret@db.example/mem", "unsupported database 'mysql'"),
        ("postgresql+asyncpg://app:hunter2secret@db/mem", "driver 'asyncpg'"),
        ("postgresql+psycopg://app:hunter2secret@/mem", "no host"),
        ("sqlite://", "needs a SQLite file path"),
        ("sqlite:///:memory:", "needs a SQLite file path"),
    ],
)
def test_bad_url_is_a_clear_value_error(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        MemoryStore.from_url(url)
    assert "hunter2secret" not in str(caught.value)


async def test_sqlite_parent_folders_are_created(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "memory.db"
    store = MemoryStore.from_url(f"sqlite+aiosqlite:///{db}")
    try:
        await store.add_turn("t", question="q", answer="a", **turn_times())
    finally:
        await store.aclose()
    assert db.is_file()


async def test_default_url_is_sqlite_in_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_sqlite_path() == tmp_path / "xdg" / "ponder" / "memory.db"
    store = MemoryStore.from_url()
    try:
        await store.add_turn("t", question="q", answer="a", **turn_times())
        async with store.engine.connect() as conn:
            mode = await conn.exec_driver_sql("PRAGMA journal_mode")
            fks = await conn.exec_driver_sql("PRAGMA foreign_keys")
            assert (mode.scalar(), fks.scalar()) == ("wal", 1)
    finally:
        await store.aclose()
    assert default_sqlite_path().is_file()


async def test_sqlite_writers_begin_immediate_readers_deferred(tmp_path: Path) -> None:
    store = MemoryStore.from_url(f"sqlite:///{tmp_path / 'm.db'}")
    begins: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        await store.thread_exists("t")  # migration (a write), then a read
        await store.add_turn("t", question="q", answer="a", **turn_times())
    finally:
        await store.aclose()
    assert begins == ["BEGIN IMMEDIATE", "BEGIN", "BEGIN IMMEDIATE"]
