"""The served API (issue 12.7): client system messages honoured, backend addresses hidden."""

from __future__ import annotations

import httpx
import openai
from server_harness import fake_agent, serving, sse_events

from ponder.memory import MemoryStore
from ponder.server import create_app
from ponder.testing import Turn


async def test_system_and_developer_messages_reach_the_agent_as_its_system_message(
    memory: MemoryStore,
) -> None:
    # The OpenAI Agents SDK sends its `instructions` as a system message; they were
    # folded into the question as "[system] ...".
    async with (
        fake_agent([Turn(content="Bonjour.")], memory) as (agent, model),
        serving(create_app({"calc": agent}, memory=memory)) as url,
    ):
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = await client.chat.completions.create(
            model="calc",
            messages=[
                {"role": "system", "content": "Always answer in French."},
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": "Say hello."},
            ],
        )
        await client.close()
    assert reply.choices[0].message.content == "Bonjour."
    sent = (model.requests[0].body or {})["messages"]
    assert sent[0]["role"] == "system"
    assert "Always answer in French." in sent[0]["content"]
    assert "Be brief." in sent[0]["content"]
    assert sent[-1] == {"role": "user", "content": "Say hello."}
    assert "[system]" not in str(sent) and "[developer]" not in str(sent)
    (thread,) = await memory.list_threads()
    assert [t.question for t in await memory.turns(thread.id)] == ["Say hello."]


async def test_broken_backend_stream_errors_never_name_the_backend(memory: MemoryStore) -> None:
    broken = Turn(reasoning="thinking " * 30, content="never whole", drop_after_chunks=3)
    async with (
        fake_agent([broken, broken], memory) as (agent, model),
        serving(create_app({"calc": agent}, memory=memory)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        host = model.base_url.split("//", 1)[1].split("/", 1)[0]
        whole = await client.post(
            "/v1/chat/completions",
            json={"model": "calc", "messages": [{"role": "user", "content": "q"}]},
        )
        streamed = await client.post(
            "/v1/chat/completions",
            json={"model": "calc", "stream": True, "messages": [{"role": "user", "content": "q"}]},
        )
    assert whole.status_code == 502
    assert "the model failed" in whole.text and "broke" in whole.text
    errors = [e for e in sse_events(streamed.text) if "error" in e.get("data", "")]
    assert errors and "the model failed" in errors[0]["data"]
    for text in (whole.text, streamed.text):
        assert host not in text and "127.0.0.1" not in text and "http://" not in text
