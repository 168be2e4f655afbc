"""Invariant 1: a canary in the model's reasoning reaches no byte of storage or logs.

A multi-turn conversation with tool calls and a JSON-mode turn runs against
real SQLite (memory and LangGraph checkpoints, WAL included) and PostgreSQL,
with every log record of every logger written to a file. The canary must be
live during the run (the caller sees it, DeepSeek V4 gets it back inside the
tool loop) and absent from everything persisted afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import (
    MemoryStore,
    postgres_checkpointer,
    scan_files_for,
    sqlite_artifacts,
    sqlite_checkpointer,
)
from ponder.testing import FakeModelServer, ToolCallSpec, Turn


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Sum(BaseModel):
    total: int


def conversation(canary: str) -> list[Turn]:
    return [
        Turn(reasoning=f"{canary} plan: add", tool_calls=[ToolCallSpec("add", {"a": 20, "b": 22})]),
        Turn(reasoning=f"{canary} got 42", content="The sum is 42."),
        Turn(reasoning=f"{canary} second turn", tool_calls=[ToolCallSpec("add", {"a": 1, "b": 2})]),
        Turn(reasoning=f"{canary} json now", content='{"total": 3}'),
    ]


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "run.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


async def run_conversation(
    server: FakeModelServer, memory: MemoryStore, checkpointer: Any, shape_profile: str
) -> list[str]:
    """Two turns on one thread: tools in each, JSON mode in the second."""
    async with OpenAICompatibleBackend(
        base_url=server.base_url, model="deepseek-v4-pro", api_key="sk-x", profile=shape_profile
    ) as backend:
        agent = Agent(backend, [add], memory=memory, checkpointer=checkpointer)
        first = await agent.arun("What is 20 + 22?")
        json_agent = Agent(
            backend, [add], memory=memory, checkpointer=checkpointer, response_schema=Sum
        )
        second = await json_agent.arun("Now 1 + 2, as JSON.", thread_id=first.thread_id)
    assert first.answer == "The sum is 42." and second.answer == Sum(total=3)
    return [first.reasoning, second.reasoning]


@pytest.mark.parametrize("shape", ["deepseek", "raw"])
async def test_canary_never_reaches_sqlite_files_or_logs(
    tmp_path: Path, log_file: Path, shape: str
) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    memory_db, checkpoint_db = tmp_path / "memory.db", tmp_path / "checkpoints.db"
    memory = MemoryStore.from_url(f"sqlite:///{memory_db}")
    profile = "deepseek" if shape == "deepseek" else "openai-compatible"
    with FakeModelServer(conversation(canary), shape=shape) as server:
        async with sqlite_checkpointer(checkpoint_db) as checkpointer:
            reasoning = await run_conversation(server, memory, checkpointer, profile)
            files = [*sqlite_artifacts(memory_db), *sqlite_artifacts(checkpoint_db), log_file]
            assert scan_files_for(canary, files) == []  # while open: WAL still un-checkpointed
    await memory.aclose()
    # the canary was live: the caller saw it and, for V4, the model got it back in-turn
    assert all(canary in text for text in reasoning)
    if shape == "deepseek":
        assert canary in json.dumps(server.requests[1].body)
    # the next turn's request holds no reasoning at all
    assert canary not in json.dumps(server.requests[2].body)
    assert_not_vacuous([memory_db, checkpoint_db, log_file])
    files = [*sqlite_artifacts(memory_db), *sqlite_artifacts(checkpoint_db), log_file]
    assert scan_files_for(canary, files) == []


def assert_not_vacuous(files: list[Path]) -> None:
    """The main files exist and hold bytes, so a clean scan means something."""
    for file in files:
        assert file.stat().st_size > 0, f"{file} is empty: scanning it proves nothing"


def _pg_url() -> str:
    url = os.environ.get("PONDER_TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail("CI is set but PONDER_TEST_POSTGRES_URL is not")
    pytest.skip(reason="PONDER_TEST_POSTGRES_URL is not set; no PostgreSQL server to test against")


@asynccontextmanager
async def fresh_pg_database(base_url: str) -> AsyncIterator[str]:
    import psycopg

    name = f"ponder_canary_{uuid.uuid4().hex[:12]}"
    admin = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def dump_all_tables(url: str) -> str:
    import psycopg

    rows: list[str] = []
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            for (row,) in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t'):
                rows.append(row)
    assert rows, "nothing was stored: the scan would be vacuous"
    return "\n".join(rows)


@pytest.mark.postgres
async def test_canary_never_reaches_postgres_tables_or_logs(log_file: Path) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    async with fresh_pg_database(_pg_url()) as url:
        memory = MemoryStore.from_url(url)
        with FakeModelServer(conversation(canary), shape="deepseek") as server:
            async with AsyncExitStack() as stack:
                checkpointer = await stack.enter_async_context(postgres_checkpointer(url))
                reasoning = await run_conversation(server, memory, checkpointer, "deepseek")
        await memory.aclose()
        dump = dump_all_tables(url)
    assert all(canary in text for text in reasoning)
    assert "The sum is 42." in dump  # the answers are there …
    assert canary not in dump  # … the reasoning is not
    assert scan_files_for(canary, [log_file]) == []
