"""Attacks on the server: hostile thread ids, unauthenticated uploads, echoed input, races.

Each runs a real uvicorn server on loopback in front of agents backed by the
fake model, and asserts on what clients, the log and the store saw.
"""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from server_harness import fake_agent, serving

from ponder.memory import MemoryStore
from ponder.server import create_app
from ponder.testing import Turn

KEY = "srv-key-hardening"
BAD_IDS = ["é", "thread\nINFO forged line", "   ", "a" * 129, "日本", "a b", "x\u2028y", "t\r"]


async def test_bad_thread_ids_get_422_before_the_model_runs(
    memory: MemoryStore, log_file: Path
) -> None:
    async with (
        fake_agent(lambda _body: Turn(content="fine"), memory) as (agent, model),
        serving(create_app({"a": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        for bad in BAD_IDS:
            asks: list[tuple[str, dict[str, Any]]] = [
                ("/agents/a/runs", {"question": "q", "thread_id": bad}),
                ("/agents/a/runs/stream", {"question": "q", "thread_id": bad}),
            ]
            for stream in (False, True):
                asks.append(
                    (
                        "/v1/chat/completions",
                        {
                            "model": "a",
                            "stream": stream,
                            "thread_id": bad,
                            "messages": [{"role": "user", "content": "q"}],
                        },
                    )
                )
            for path, body in asks:
                reply = await client.post(path, json=body)
                assert reply.status_code == 422, (path, bad, reply.status_code)
                assert bad.strip() == "" or bad not in reply.text
            for method in ("GET", "DELETE"):
                reply = await client.request(method, f"/threads/{quote(bad, safe='')}")
                assert reply.status_code == 422, (method, bad)
        assert model.requests == []
        # Nothing was left claimed: the good ids still run at once.
        for good in ("t-1", "A.b:c_d-9", "x" * 128):
            reply = await client.post("/agents/a/runs", json={"question": "q", "thread_id": good})
            assert reply.status_code == 200 and reply.json()["answer"] == "fine"
    assert not await memory.turns("é")
    assert [t.answer for t in await memory.turns("t-1")] == ["fine"]
    log = await asyncio.to_thread(log_file.read_text)
    assert [line for line in log.splitlines() if "forged line" in line] == []


async def test_422_never_echoes_an_unknown_key(memory: MemoryStore) -> None:
    secret = "sk-pasted-by-mistake-0123456789"
    async with (
        fake_agent([], memory) as (agent, _),
        serving(create_app({"a": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        reply = await client.post("/agents/a/runs", json={"question": "q", secret: 1})
    assert reply.status_code == 422
    assert secret not in reply.text
    assert reply.json()["error"]["details"] == [
        {"loc": ["body", "(unknown field)"], "msg": "unknown fields are not allowed"}
    ]


async def _stalled_upload(port: int, auth: str | None) -> bytes:
    """Declare a 900 kB body, send 64 kB of it, stall; return all the server sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /agents/a/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: 900000\r\n{auth or ''}\r\n"
    )
    writer.write(head.encode() + b"x" * 65_536)
    try:
        return await reader.read(-1)  # until the server closes the connection
    finally:
        writer.close()


async def test_unauthenticated_uploads_are_refused_before_the_body_and_closed(
    memory: MemoryStore,
) -> None:
    async with (
        fake_agent([], memory) as (agent, model),
        serving(create_app({"a": agent}, memory=memory, api_keys=[KEY])) as url,
    ):
        port = httpx.URL(url).port
        assert port is not None
        async with asyncio.timeout(60):  # a bound on a hang, not a speed claim
            replies = await asyncio.gather(*(_stalled_upload(port, None) for _ in range(100)))
        for reply in replies:
            assert reply.startswith(b"HTTP/1.1 401 "), reply[:80]
            assert b"missing or invalid bearer token" in reply
        assert model.requests == []


async def test_slow_bodies_time_out_with_408(memory: MemoryStore) -> None:
    app = create_app({"a": agent_stub()}, memory=None, api_keys=[KEY], body_timeout_s=0.5)
    async with serving(app) as url:
        port = httpx.URL(url).port
        assert port is not None
        async with asyncio.timeout(60):
            reply = await _stalled_upload(port, f"Authorization: Bearer {KEY}\r\n")
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:80]


def agent_stub() -> Any:
    """An agent factory that must never be called (the body never arrives)."""

    def factory() -> Any:
        raise AssertionError("no run may start")

    return factory


async def test_40_concurrent_runs_on_one_thread_one_runs(memory: MemoryStore) -> None:
    slow = Turn(content="the one", delay_s=0.05, chunk_chars=1)
    async with (
        fake_agent(lambda _body: slow, memory) as (agent, model),
        serving(create_app({"a": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as client,
    ):
        ask = {"question": "q", "thread_id": "shared"}
        replies = await asyncio.gather(
            *(client.post("/agents/a/runs", json=ask) for _ in range(40))
        )
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] + [409] * 39
    assert len(model.requests) == 1
    assert [t.answer for t in await memory.turns("shared")] == ["the one"]


class _SavingSignal(MemoryStore):
    """The real store, which also says when a save begins."""

    saving: asyncio.Event

    async def add_turn(self, *args: Any, **kwargs: Any) -> Any:
        self.saving.set()
        return await super().add_turn(*args, **kwargs)


@pytest.mark.slow
async def test_runs_cancelled_while_saving_are_logged_as_what_happened(
    memory_db: Path, log_file: Path
) -> None:
    store = _SavingSignal.from_url(f"sqlite:///{memory_db}")
    rnd = random.Random(7)
    answers = {}
    try:
        for i in range(24):
            answers[f"run-{i}"] = "z" * rnd.choice([1_000, 300_000, 1_500_000])
        script = lambda body: Turn(  # noqa: E731
            content=answers[body["messages"][-1]["content"]], chunk_chars=100_000
        )
        async with (
            fake_agent(script, store) as (agent, _),
            serving(create_app({"a": agent}, memory=store)) as url,
            httpx.AsyncClient(base_url=url, timeout=60) as client,
        ):
            for thread in answers:
                store.saving = asyncio.Event()
                ask = {"question": thread, "thread_id": thread}
                async with client.stream("POST", "/agents/a/runs/stream", json=ask) as reply:
                    stream = reply.aiter_lines()
                    await anext(stream)
                    await asyncio.wait_for(store.saving.wait(), 30)
                    for _ in range(rnd.randrange(40)):
                        await asyncio.sleep(0)
                # the client is gone; wait until the server has released the thread
                for _ in range(600):
                    if _ended(log_file, thread):
                        break
                    await asyncio.sleep(0.05)
        outcomes = {t: _ended(log_file, t) for t in answers}
        assert all(outcomes.values()), outcomes
        for thread, outcome in outcomes.items():
            stored = [t.question for t in await store.turns(thread)]
            if outcome == "cancelled":
                assert stored == [], f"{thread} logged cancelled but its turn was stored"
            else:
                assert outcome.startswith("completed"), outcome
                assert stored == [thread]
    finally:
        await store.aclose()


def _ended(log_file: Path, thread: str) -> str | None:
    text = log_file.read_text()
    started = re.search(rf"run (\w+) started: agent=a thread={re.escape(thread)}\n", text)
    if started is None:
        return None
    ended = re.search(rf"run {started.group(1)} ended: (.*) after", text)
    return ended.group(1) if ended else None
