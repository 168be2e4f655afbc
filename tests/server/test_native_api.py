"""The native API over real HTTP: JSON and SSE runs, threads, auth, limits, busy threads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from server_harness import fake_agent, serving, sse_events

from ponder.memory import MemoryStore
from ponder.server import create_app
from ponder.testing import ToolCallSpec, Turn

TOOL_TURNS = [
    Turn(reasoning="plan: add", tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})]),
    Turn(reasoning="the tool said 5", content="2 + 3 = 5."),
]


async def test_json_run_then_history_then_delete(memory: MemoryStore) -> None:
    async with (
        fake_agent(TOOL_TURNS, memory) as (agent, _),
        serving(create_app({"calc": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        assert (await client.get("/health")).json() == {"status": "ok"}
        reply = await client.post("/agents/calc/runs", json={"question": "What is 2+3?"})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["answer"] == "2 + 3 = 5." and body["outcome"] == "answered"
        assert [c["name"] for c in body["tool_calls"]] == ["add"]
        assert "reasoning" not in body
        thread = body["thread_id"]
        history = (await client.get(f"/threads/{thread}")).json()
        assert [(t["question"], t["answer"]) for t in history["turns"]] == [
            ("What is 2+3?", "2 + 3 = 5.")
        ]
        assert set(history["turns"][0]) == {
            "index",
            "question",
            "answer",
            "started_at",
            "finished_at",
        }
        assert (await client.delete(f"/threads/{thread}")).status_code == 204
        missing = await client.get(f"/threads/{thread}")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "thread_not_found"
        assert (await client.delete(f"/threads/{thread}")).status_code == 404


async def test_sse_stream_has_ids_and_typed_events(memory: MemoryStore) -> None:
    async with (
        fake_agent(TOOL_TURNS, memory) as (agent, _),
        serving(create_app({"calc": agent}, memory=memory, allow_reasoning=True)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        reply = await client.post("/agents/calc/runs/stream", json={"question": "2+3?"})
    assert reply.headers["content-type"].startswith("text/event-stream")
    frames = sse_events(reply.text)
    assert [int(f["id"]) for f in frames] == list(range(1, len(frames) + 1))
    kinds = [f["event"] for f in frames]
    assert kinds[0] == "run" and kinds[-1] == "final"
    assert {"tool_call", "tool_result", "answer_delta"} <= set(kinds)
    assert "reasoning" not in kinds  # the server allows it, but this request did not ask
    answer = "".join(json.loads(f["data"])["text"] for f in frames if f["event"] == "answer_delta")
    final = json.loads(frames[-1]["data"])["result"]
    assert answer == final["answer"] == "2 + 3 = 5."
    assert json.loads(frames[0]["data"])["thread_id"] == final["thread_id"]


@pytest.mark.parametrize(
    ("server_allows", "request_asks", "expected"),
    [(False, False, False), (True, False, False), (False, True, False), (True, True, True)],
)
async def test_reasoning_needs_server_and_request(
    memory: MemoryStore, server_allows: bool, request_asks: bool, expected: bool
) -> None:
    script = [Turn(reasoning="secret thought", content="ok")] * 2
    async with (
        fake_agent(script, memory) as (agent, _),
        serving(create_app({"a": agent}, memory=memory, allow_reasoning=server_allows)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        ask = {"question": "hi", "include_reasoning": request_asks}
        body = (await client.post("/agents/a/runs", json=ask)).json()
        frames = sse_events((await client.post("/agents/a/runs/stream", json=ask)).text)
    streamed = "".join(json.loads(f["data"])["text"] for f in frames if f["event"] == "reasoning")
    assert ("reasoning" in body) is expected
    assert streamed == ("secret thought" if expected else "")
    if expected:
        assert body["reasoning"] == "secret thought"


async def test_bearer_auth_guards_everything_but_health(memory: MemoryStore) -> None:
    key = "srv-key-7f3a9c"
    async with (
        fake_agent([Turn(content="ok")], memory) as (agent, _),
        serving(create_app({"a": agent}, memory=memory, api_keys=[key])) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        assert (await client.get("/health")).status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {key}"}):
            denied = await client.get("/v1/models", headers=headers)
            assert denied.status_code == 401
            assert denied.headers["www-authenticate"] == "Bearer"
            assert key not in denied.text
        ok = await client.post(
            "/agents/a/runs", json={"question": "hi"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert ok.status_code == 200 and ok.json()["answer"] == "ok"


async def test_size_limit_validation_and_unknown_agent(memory: MemoryStore) -> None:
    async with (
        fake_agent([], memory) as (agent, _),
        serving(create_app({"a": agent}, memory=memory, max_body_bytes=2_000)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        big = await client.post("/agents/a/runs", json={"question": "x" * 5_000})
        assert big.status_code == 413
        assert big.json()["error"] == {
            "type": "request_too_large",
            "message": "request body exceeds the limit of 2000 bytes",
        }

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * 500

        streamed = await client.post(
            "/agents/a/runs", content=chunked(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        for bad in ({}, {"question": "   "}, {"question": "hi", "extra": 1}, {"question": 3}):
            reply = await client.post("/agents/a/runs", json=bad)
            assert reply.status_code == 422, bad
            error = reply.json()["error"]
            assert error["type"] == "invalid_request" and error["details"]
            assert "input" not in error["details"][0]
        not_json = await client.post(
            "/agents/a/runs", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 422
        unknown = await client.post("/agents/nope/runs", json={"question": "hi"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["type"] == "agent_not_found"


async def test_second_run_on_a_busy_thread_gets_409(memory: MemoryStore) -> None:
    slow = Turn(content="slow answer", delay_s=0.05, chunk_chars=1)
    async with (
        fake_agent([slow, Turn(content="next")], memory) as (agent, _),
        serving(create_app({"a": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        first = asyncio.create_task(
            client.post("/agents/a/runs", json={"question": "q1", "thread_id": "t1"})
        )
        await asyncio.sleep(0.2)
        busy = await client.post(
            "/agents/a/runs/stream", json={"question": "q2", "thread_id": "t1"}
        )
        assert busy.status_code == 409
        assert busy.json()["error"]["type"] == "thread_busy"
        assert (await client.delete("/threads/t1")).status_code == 409
        assert (await first).json()["answer"] == "slow answer"
        again = await client.post("/agents/a/runs", json={"question": "q2", "thread_id": "t1"})
        assert again.json()["answer"] == "next"
    assert [t.answer for t in await memory.turns("t1")] == ["slow answer", "next"]


@pytest.mark.parametrize("streamed", [True, False])
async def test_disconnect_cancels_the_run_and_saves_nothing(
    memory: MemoryStore, streamed: bool
) -> None:
    # 30 s of answer at 0.1 s a character: however loaded the machine, the disconnect wins
    slow = Turn(reasoning="thinking", content="never finished " * 20, delay_s=0.1, chunk_chars=1)
    async with (
        fake_agent([slow, Turn(content="fresh")], memory) as (agent, model),
        serving(create_app({"a": agent}, memory=memory)) as url,
    ):
        ask = {"question": "q", "thread_id": "gone"}
        async with httpx.AsyncClient(base_url=url) as client:
            if streamed:
                async with client.stream("POST", "/agents/a/runs/stream", json=ask) as reply:
                    async for line in reply.aiter_lines():
                        if line.startswith("event: answer_delta"):
                            break
            else:
                with pytest.raises(httpx.ReadTimeout):
                    await client.post("/agents/a/runs", json=ask, timeout=0.5)
        async with httpx.AsyncClient(base_url=url) as client:
            deadline = time.monotonic() + 25  # the thread is released once the run is cancelled
            while (reply := await client.post("/agents/a/runs", json=ask)).status_code == 409:
                assert time.monotonic() < deadline, "the cancelled run still holds the thread"
                await asyncio.sleep(0.05)
            assert reply.json()["answer"] == "fresh"
        assert len(model.requests) == 2
    turns = await memory.turns("gone")
    assert [t.answer for t in turns] == ["fresh"]


async def test_shutdown_cancels_runs_past_the_grace_period(memory: MemoryStore) -> None:
    slow = Turn(content="too slow to finish", delay_s=0.2, chunk_chars=1)
    async with fake_agent([slow], memory) as (agent, _), httpx.AsyncClient(timeout=30) as client:
        async with serving(create_app({"a": agent}, memory=memory), grace_s=1) as url:
            reply_task = asyncio.create_task(
                client.post(f"{url}/agents/a/runs", json={"question": "q", "thread_id": "s"})
            )
            await asyncio.sleep(0.5)
        # serving() returned: uvicorn waited out the grace period, then cancelled the run
        (outcome,) = await asyncio.gather(reply_task, return_exceptions=True)
    assert isinstance(outcome, httpx.HTTPError) or (
        isinstance(outcome, httpx.Response) and outcome.status_code == 500
    )
    assert await memory.turns("s") == []
