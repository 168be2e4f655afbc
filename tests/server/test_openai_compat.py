"""The OpenAI-compatible endpoint, driven by the official ``openai`` client, and the canary."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import openai
import pytest
from server_harness import BACKEND_KEY, fake_agent, serving, sse_events

from ponder.memory import MemoryStore, scan_files_for, sqlite_artifacts
from ponder.server import create_app
from ponder.testing import ToolCallSpec, Turn

SERVER_KEY = "srv-key-openai-test"


def tool_turns(reasoning: str = "thinking") -> list[Turn]:
    return [
        Turn(reasoning=f"{reasoning} plan", tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})]),
        Turn(reasoning=f"{reasoning} done", content="It is 5."),
    ]


async def test_openai_client_non_stream_and_stream(memory: MemoryStore) -> None:
    async with (
        fake_agent(tool_turns() * 2, memory) as (agent, _),
        serving(create_app({"calc": agent}, memory=memory, api_keys=[SERVER_KEY])) as url,
    ):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=SERVER_KEY, max_retries=0)
        models = await client.models.list()
        assert [m.id for m in models.data] == ["calc"]
        completion = await client.chat.completions.create(
            model="calc", messages=[{"role": "user", "content": "2+3?"}]
        )
        assert completion.choices[0].message.content == "It is 5."
        assert completion.choices[0].finish_reason == "stop"
        assert completion.choices[0].message.tool_calls is None
        extra = completion.model_extra or {}
        assert extra["ponder"]["tool_calls"] == [{"name": "add", "ok": True}]
        assert "reasoning_content" not in (completion.choices[0].message.model_extra or {})
        stream = await client.chat.completions.create(
            model="calc",
            messages=[{"role": "user", "content": "2+3 again?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "It is 5."
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
        await client.close()
    assert len(await memory.list_threads()) == 2


async def test_openai_errors_and_thread_continuation(memory: MemoryStore) -> None:
    script = [Turn(content="first"), Turn(content="second")]
    async with (
        fake_agent(script, memory) as (agent, model),
        serving(create_app({"calc": agent}, memory=memory)) as url,
    ):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.NotFoundError, match="no agent named 'gpt-4'"):
            await client.chat.completions.create(
                model="gpt-4", messages=[{"role": "user", "content": "hi"}]
            )
        with pytest.raises(openai.UnprocessableEntityError, match="last message must have role"):
            await client.chat.completions.create(
                model="calc", messages=[{"role": "assistant", "content": "hi"}]
            )
        raw = await client.chat.completions.with_raw_response.create(
            model="calc", messages=[{"role": "user", "content": "one"}]
        )
        thread = raw.headers["x-ponder-thread-id"]
        second = await client.chat.completions.create(
            model="calc",
            messages=[
                {"role": "user", "content": "one"},
                {"role": "assistant", "content": "first"},
                {"role": "user", "content": "two"},
            ],
            extra_body={"thread_id": thread},
        )
        assert second.choices[0].message.content == "second"
        await client.close()
    # with a thread, the stored history is the context: no folded transcript
    sent = [
        m["content"] for m in (model.requests[1].body or {})["messages"] if m["role"] != "system"
    ]
    assert sent == ["one", "first", "two"]
    assert [t.question for t in await memory.turns(thread)] == ["one", "two"]


async def test_client_history_is_folded_and_client_reasoning_dropped(
    memory: MemoryStore, memory_db: Path
) -> None:
    canary = f"CLIENT-CANARY-{uuid.uuid4().hex}"
    async with (
        fake_agent([Turn(content="done")], memory) as (agent, model),
        serving(create_app({"calc": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        reply = await client.post(
            "/v1/chat/completions",
            json={
                "model": "calc",
                "messages": [
                    {"role": "user", "content": "earlier question"},
                    {
                        "role": "assistant",
                        "content": f"<think>{canary}</think>earlier answer",
                        "reasoning_content": canary,
                    },
                    {"role": "user", "content": "now?"},
                ],
            },
        )
    assert reply.status_code == 200, reply.text
    question = (model.requests[0].body or {})["messages"][-1]["content"]
    assert "earlier question" in question and "earlier answer" in question
    assert question.endswith("now?") and canary not in json.dumps(model.requests[0].body or {})
    await memory.aclose()
    assert scan_files_for(canary, sqlite_artifacts(memory_db)) == []


async def test_canary_reaches_clients_but_not_storage_or_logs(
    memory: MemoryStore, memory_db: Path, log_file: Path
) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    async with (
        fake_agent(tool_turns(canary) * 3, memory) as (agent, _),
        serving(
            create_app({"calc": agent}, memory=memory, api_keys=[SERVER_KEY], allow_reasoning=True)
        ) as url,
    ):
        auth = {"Authorization": f"Bearer {SERVER_KEY}"}
        async with httpx.AsyncClient(base_url=url, headers=auth) as http:
            ask = {"question": "2+3?", "include_reasoning": True}
            native = await http.post("/agents/calc/runs", json=ask)
            frames = sse_events((await http.post("/agents/calc/runs/stream", json=ask)).text)
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=SERVER_KEY, max_retries=0)
        stream = await client.chat.completions.create(
            model="calc",
            messages=[{"role": "user", "content": "2+3?"}],
            stream=True,
            extra_body={"include_reasoning": True},
        )
        streamed = "".join(
            [
                (c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                async for c in stream
            ]
        )
        await client.close()
        files = [*sqlite_artifacts(memory_db), log_file]
        assert scan_files_for(canary, files) == []  # while open: WAL not yet checkpointed
    # the canary was live for every client that asked
    assert canary in native.json()["reasoning"]
    assert canary in "".join(json.loads(f["data"]).get("text", "") for f in frames)
    assert canary in streamed
    assert len(await memory.list_threads()) == 3
    await memory.aclose()
    assert scan_files_for(" started: agent=calc", [log_file]) == [log_file]  # the server did log
    files = [*sqlite_artifacts(memory_db), log_file]
    assert scan_files_for(canary, files) == []
    for secret in (SERVER_KEY, BACKEND_KEY):
        assert scan_files_for(secret, [log_file]) == []
