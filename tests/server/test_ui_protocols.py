"""AG-UI, the Vercel UI message stream, GET /agents, GET /threads and the page, over real HTTP.

The server's guarantees hold on the UI protocols as on the native API: auth,
body limits, one run per thread, reasoning only when the server and the
request both allow it, and reasoning never stored or logged.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from server_harness import fake_agent, serving

from ponder.graphs import Budgets
from ponder.memory import MemoryStore, scan_files_for, sqlite_artifacts
from ponder.server import create_app
from ponder.testing import ToolCallSpec, Turn

TOKEN = "ui-protocol-token"


def agui_body(thread: str, question: str = "2+3?", **props: Any) -> dict[str, Any]:
    return {
        "threadId": thread,
        "runId": "run-1",
        "messages": [{"id": "m1", "role": "user", "content": question}],
        "forwardedProps": props,
    }


def vercel_body(thread: str, question: str = "2+3?", **extra: Any) -> dict[str, Any]:
    message = {"id": "m1", "role": "user", "parts": [{"type": "text", "text": question}]}
    return {"id": thread, "messages": [message], "trigger": "submit-message", **extra}


def data_lines(text: str) -> list[Any]:
    """The ``data:`` payloads of an SSE body, JSON-decoded (``[DONE]`` kept as is)."""
    out: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def tool_turns(reasoning: str = "thinking") -> list[Turn]:
    return [
        Turn(reasoning=f"{reasoning} plan", tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})]),
        Turn(reasoning=f"{reasoning} done", content="It is 5."),
    ]


async def test_auth_limits_busy_threads_and_the_page(memory: MemoryStore) -> None:
    slow = Turn(content="slowly " * 40, delay_s=0.05, chunk_chars=1)  # ~14 s unless cancelled
    async with (
        fake_agent([slow, *tool_turns()], memory) as (agent, _),
        serving(
            create_app({"calc": agent}, memory=memory, api_keys=[TOKEN], max_body_bytes=4000)
        ) as url,
        httpx.AsyncClient(base_url=url) as anonymous,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
    ):
        for path, body in [
            ("/agents/calc/ag-ui", agui_body("t")),
            ("/agents/calc/ui-message-stream", vercel_body("t")),
        ]:
            assert (await anonymous.post(path, json=body)).status_code == 401
            too_big = await http.post(path, json={**body, "padding": "x" * 5000})
            assert too_big.status_code == 413
        for path in ("/agents", "/threads"):
            assert (await anonymous.get(path)).status_code == 401

        # the page and its assets need no token (they hold none); the API calls do
        page = await anonymous.get("/")
        assert page.status_code == 200 and 'src="ui/app.js"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (await anonymous.get("/ui/app.js")).status_code == 200
        assert (await anonymous.get("/ui/katex/katex.min.js")).status_code == 200

        # one run per thread, whichever protocol asks
        ask = {"question": "q", "thread_id": "busy"}
        async with http.stream("POST", "/agents/calc/runs/stream", json=ask) as running:
            lines = running.aiter_lines()  # held: a collected iterator would close the stream
            async for line in lines:
                if line.startswith("event: answer_delta"):
                    break
            for path, body in [
                ("/agents/calc/ag-ui", agui_body("busy")),
                ("/agents/calc/ui-message-stream", vercel_body("busy")),
            ]:
                refused = await http.post(path, json=body)
                assert refused.status_code == 409, (path, refused.text[:600])
                assert refused.json()["error"]["type"] == "thread_busy"
            listed = (await http.get("/threads")).json()["threads"]
            assert listed == []  # the running turn is not saved until it completes
        reply = await http.post("/agents/calc/ui-message-stream", json=vercel_body("busy"))
        while reply.status_code == 409:  # the cancelled stream releases the thread as it unwinds
            await asyncio.sleep(0.02)
            reply = await http.post("/agents/calc/ui-message-stream", json=vercel_body("busy"))
        assert reply.headers["x-vercel-ai-ui-message-stream"] == "v1"
        assert data_lines(reply.text)[-1] == "[DONE]"
        (thread,) = (await http.get("/threads")).json()["threads"]
        assert thread["thread_id"] == "busy" and thread["turn_count"] == 1
        assert thread["busy"] is False
        assert (await http.get("/agents")).json() == {
            "agents": [{"name": "calc"}],
            "allow_reasoning": False,
        }


async def test_bad_requests_are_422_with_one_line(memory: MemoryStore) -> None:
    async with (
        fake_agent([], memory) as (agent, _),
        serving(create_app({"calc": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        no_user = agui_body("t")
        no_user["messages"] = [{"id": "a", "role": "assistant", "content": "hi"}]
        cases = [
            ("/agents/calc/ag-ui", no_user),
            ("/agents/calc/ag-ui", agui_body("a/b")),
            ("/agents/calc/ag-ui", {"threadId": "t"}),
            ("/agents/calc/ui-message-stream", vercel_body("t", "   ")),
            ("/agents/calc/ui-message-stream", {"id": "t", "messages": []}),
        ]
        for path, body in cases:
            reply = await http.post(path, json=body)
            assert reply.status_code == 422, (path, body, reply.text)
            assert "\n" not in reply.json()["error"]["message"]
        missing = await http.post("/agents/nope/ag-ui", json=agui_body("t"))
        assert missing.status_code == 404


async def test_threads_endpoint_needs_memory() -> None:
    async with (
        fake_agent([], None) as (agent, _),
        serving(create_app({"calc": agent})) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        reply = await http.get("/threads")
    assert reply.status_code == 501 and reply.json()["error"]["type"] == "not_configured"


@pytest.mark.parametrize("protocol", ["ag-ui", "vercel"])
@pytest.mark.parametrize(
    ("server_allows", "request_asks"), [(False, False), (True, False), (False, True), (True, True)]
)
async def test_reasoning_needs_server_and_request(
    memory: MemoryStore, protocol: str, server_allows: bool, request_asks: bool
) -> None:
    canary = f"REASON-{uuid.uuid4().hex}"
    async with (
        fake_agent(tool_turns(canary), memory) as (agent, _),
        serving(create_app({"calc": agent}, memory=memory, allow_reasoning=server_allows)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        if protocol == "ag-ui":
            props = {"include_reasoning": True} if request_asks else {}
            reply = await http.post("/agents/calc/ag-ui", json=agui_body("r", **props))
            events = data_lines(reply.text)
            shown = any(e["type"].startswith("REASONING") for e in events)
            thought = "".join(
                e["delta"] for e in events if e["type"] == "REASONING_MESSAGE_CONTENT"
            )
            assert events[-1]["type"] == "RUN_FINISHED"
        else:
            extra = {"include_reasoning": True} if request_asks else {}
            reply = await http.post(
                "/agents/calc/ui-message-stream", json=vercel_body("r", **extra)
            )
            chunks = data_lines(reply.text)[:-1]
            shown = any(c["type"].startswith("reasoning") for c in chunks)
            thought = "".join(c["delta"] for c in chunks if c["type"] == "reasoning-delta")
            assert chunks[-1]["type"] == "finish"
    assert shown == (server_allows and request_asks)
    assert (canary in thought) == shown
    if not shown:
        assert canary not in reply.text


async def test_ui_streams_carry_the_canary_but_nothing_stores_or_logs_it(
    memory: MemoryStore, memory_db: Path, log_file: Path
) -> None:
    canary = f"UI-CANARY-{uuid.uuid4().hex}"
    async with (
        fake_agent(tool_turns(canary) * 2, memory) as (agent, _),
        serving(create_app({"calc": agent}, memory=memory, allow_reasoning=True)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        agui = await http.post("/agents/calc/ag-ui", json=agui_body("c1", include_reasoning=True))
        vercel = await http.post(
            "/agents/calc/ui-message-stream", json=vercel_body("c2", include_reasoning=True)
        )
        agui_thought = "".join(
            e["delta"] for e in data_lines(agui.text) if e["type"] == "REASONING_MESSAGE_CONTENT"
        )
        vercel_thought = "".join(
            c["delta"] for c in data_lines(vercel.text)[:-1] if c["type"] == "reasoning-delta"
        )
        assert canary in agui_thought and canary in vercel_thought
        assert scan_files_for(canary, [*sqlite_artifacts(memory_db), log_file]) == []
    # what the user was shown is what was stored: the answer, once
    finished = data_lines(agui.text)[-1]
    assert finished["result"]["answer"] == "It is 5."
    texts = [c["delta"] for c in data_lines(vercel.text)[:-1] if c["type"] == "text-delta"]
    assert "".join(texts) == "It is 5."
    assert [t.answer for t in await memory.turns("c1")] == ["It is 5."]
    assert [t.answer for t in await memory.turns("c2")] == ["It is 5."]
    await memory.aclose()
    assert scan_files_for(canary, [*sqlite_artifacts(memory_db), log_file]) == []


async def test_a_budget_outcome_is_named_not_called_an_answer(memory: MemoryStore) -> None:
    looping = Turn(tool_calls=[ToolCallSpec("add", {"a": 1, "b": 1})])
    best_effort = Turn(content="Best so far: 2.")
    async with (
        fake_agent([looping, best_effort] * 2, memory, budgets=Budgets(max_steps=1)) as (agent, _),
        serving(create_app({"calc": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        agui = data_lines((await http.post("/agents/calc/ag-ui", json=agui_body("b1"))).text)
        vercel = data_lines(
            (await http.post("/agents/calc/ui-message-stream", json=vercel_body("b2"))).text
        )
    assert agui[-1]["type"] == "RUN_FINISHED"
    assert agui[-1]["result"]["outcome"] == "max_steps"
    finish = vercel[-2]
    assert finish["finishReason"] == "other"
    assert finish["messageMetadata"]["outcome"] == "max_steps"


async def test_mounted_under_a_prefix_the_page_is_open_and_the_api_is_not(
    memory: MemoryStore,
) -> None:
    async with fake_agent([], memory) as (agent, _):
        outer = FastAPI()
        outer.mount("/ponder", create_app({"calc": agent}, memory=memory, api_keys=[TOKEN]))
        async with serving(outer) as url, httpx.AsyncClient(base_url=url) as http:
            page = await http.get("/ponder/", follow_redirects=True)
            script = await http.get("/ponder/ui/app.js")
            api = await http.get("/ponder/agents")
            authorized = await http.get(
                "/ponder/agents", headers={"Authorization": f"Bearer {TOKEN}"}
            )
    assert page.status_code == 200 and 'src="ui/app.js"' in page.text
    assert script.status_code == 200
    assert api.status_code == 401 and authorized.status_code == 200


async def test_model_errors_never_name_the_backend(memory: MemoryStore) -> None:
    broken = Turn(reasoning="thinking " * 30, content="never whole", drop_after_chunks=3)
    async with (
        fake_agent([broken] * 2, memory) as (agent, model),
        serving(create_app({"calc": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        host = model.base_url.split("//", 1)[1].split("/", 1)[0]
        agui = await http.post("/agents/calc/ag-ui", json=agui_body("e1"))
        vercel = await http.post("/agents/calc/ui-message-stream", json=vercel_body("e2"))
    failed = data_lines(agui.text)[-1]
    assert failed["type"] == "RUN_ERROR" and failed["message"].startswith("the model failed")
    error = [c for c in data_lines(vercel.text)[:-1] if c["type"] == "error"]
    assert error and error[0]["errorText"].startswith("the model failed")
    for text in (agui.text, vercel.text):
        assert host not in text and "127.0.0.1" not in text and "http://" not in text
