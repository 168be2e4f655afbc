"""A real uvicorn server on loopback, serving agents backed by a FakeModelServer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import MemoryStore
from ponder.testing import FakeModelServer, Turn

BACKEND_KEY = "sk-backend-secret-key"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def last_user_text(body: Mapping[str, Any]) -> str:
    return str([m for m in body["messages"] if m["role"] == "user"][-1]["content"])


@asynccontextmanager
async def serving(app: FastAPI, *, grace_s: int = 2) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on a free loopback port, on this event loop."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=grace_s,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def fake_agent(
    script: list[Turn] | Callable[[dict[str, Any]], Turn],
    memory: MemoryStore | None,
    **agent_options: Any,
) -> AsyncIterator[tuple[Agent, FakeModelServer]]:
    with FakeModelServer(script, shape="deepseek") as model_server:
        async with OpenAICompatibleBackend(
            base_url=model_server.base_url,
            model="deepseek-v4-pro",
            api_key=BACKEND_KEY,
            profile="deepseek",
            backoff_initial_s=0.01,
            backoff_max_s=0.05,
        ) as backend:
            yield Agent(backend, [add], memory=memory, **agent_options), model_server


@pytest.fixture
def memory_db(tmp_path: Path) -> Path:
    return tmp_path / "memory.db"


@pytest.fixture
async def memory(memory_db: Path) -> AsyncIterator[MemoryStore]:
    store = MemoryStore.from_url(f"sqlite:///{memory_db}")
    yield store
    await store.aclose()


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """Every record of every logger, DEBUG and up, written to a file."""
    path = tmp_path / "server.log"
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


def sse_events(text: str) -> list[dict[str, str]]:
    """Parse an SSE body into frames of ``id``/``event``/``data``."""
    frames = []
    for block in text.strip().split("\n\n"):
        frame: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(": ")
            frame[key] = frame[key] + "\n" + value if key in frame else value
        frames.append(frame)
    return frames
