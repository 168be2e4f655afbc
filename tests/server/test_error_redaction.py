"""Provider error text that quotes our reasoning or key reaches no log and no client.

The fake DeepSeek model thinks (a canary), calls a tool, and answers the next
request, which replays that reasoning as the contract demands, with a 400 that
quotes it back. Seen before: the quote was logged by ``ponder.backends`` and
forwarded in 502 bodies and streaming error frames by a server with reasoning
disallowed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from server_harness import fake_agent, serving

from ponder.backends import OpenAICompatibleBackend
from ponder.memory import MemoryStore
from ponder.server import create_app
from ponder.testing import ToolCallSpec, Turn

CANARY = "CANARY-7d41 the secret chain of thought about the user's question"


def quoting_script() -> list[Turn]:
    think = Turn(reasoning=CANARY, tool_calls=[ToolCallSpec("add", {"a": 1, "b": 2})])
    echo = Turn(status=400, error_message=f"invalid message content: '{CANARY[:40]}…'")
    return [think, echo]


async def test_quoted_reasoning_is_redacted_in_logs_502s_and_stream_frames(
    memory: MemoryStore, log_file: Path
) -> None:
    seen: list[str] = []
    for path, body in [
        ("/agents/a/runs", {"question": "q"}),
        ("/agents/a/runs/stream", {"question": "q"}),
        ("/v1/chat/completions", {"model": "a", "messages": [{"role": "user", "content": "q"}]}),
        (
            "/v1/chat/completions",
            {"model": "a", "stream": True, "messages": [{"role": "user", "content": "q"}]},
        ),
    ]:
        async with (
            fake_agent(quoting_script(), memory) as (agent, model),
            serving(create_app({"a": agent}, memory=memory)) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as client,
        ):
            reply = await client.post(path, json=body)
            replayed = [m for m in model.requests[-1].body["messages"] if m["role"] == "assistant"]
            assert replayed[-1]["reasoning_content"] == CANARY  # it was sent, and quoted back
        seen.append(reply.text)
        assert "[redacted]" in reply.text, (path, reply.text[:300])
    assert all(CANARY[:16] not in text for text in seen)
    log = await asyncio.to_thread(log_file.read_text)
    assert "ended: model error (BadRequestError)" in log
    assert CANARY[:16] not in log


@pytest.mark.parametrize("key", ["sk-valid\n", "sk-valid\r\n", " sk-valid", "sk-va lid", "sk-ключ"])
def test_malformed_api_keys_are_refused_up_front(
    key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ValueError, match="characters an HTTP header cannot carry") as raised:
        OpenAICompatibleBackend(base_url="http://127.0.0.1:9/v1", model="m", api_key=key)
    message = str(raised.value)
    assert "\n" not in message and "sk-va" not in message
    assert "sk-va" not in caplog.text
