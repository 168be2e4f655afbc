"""llama.cpp's server as a real one behaved (issue 12.6), replayed by the fake server."""

from __future__ import annotations

import pytest
from backend_helpers import ask, backend_for, collect

from ponder.backends import Completed, ContentDelta, NamedToolChoice, ResponseFormat, ToolSpec
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

PING = ToolSpec(name="ping", parameters={"type": "object", "properties": {}})
PONG = ToolSpec(name="pong", parameters={"type": "object", "properties": {}})


async def test_a_named_tool_choice_goes_as_a_string_with_only_that_tool() -> None:
    # The server logs "Wrong type supplied for parameter 'tool_choice'" for the object
    # and ignores it: send what it honours instead.
    with FakeModelServer([Turn(tool_calls=[ToolCallSpec("pong")])], shape="llamacpp") as srv:
        async with backend_for(srv, "llamacpp") as backend:
            request = ask(tools=(PING, PONG), tool_choice=NamedToolChoice(name="pong"))
            completion = await backend.complete(request)
    body = srv.requests[0].body or {}
    assert body["tool_choice"] == "required"
    assert [t["function"]["name"] for t in body["tools"]] == ["pong"]
    assert [c.name for c in completion.tool_calls] == ["pong"]


@pytest.mark.parametrize("shape", ["llamacpp", "llamacpp-none"])
async def test_the_tool_call_content_delta_is_neither_shown_nor_replayed(shape: str) -> None:
    turn = Turn(reasoning="need a tool", tool_calls=[ToolCallSpec("ping")], chunk_chars=4)
    with FakeModelServer([turn], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            events = await collect(backend, ask(tools=(PING,)))
    final = events[-1]
    assert isinstance(final, Completed)
    assert not any(isinstance(e, ContentDelta) for e in events)
    assert final.completion.content == "" and final.completion.to_message().content is None
    assert [c.name for c in final.completion.tool_calls] == ["ping"]


async def test_the_same_text_in_an_answer_without_a_call_is_kept() -> None:
    with FakeModelServer([Turn(reasoning="r", content="<tool_call>")], shape="llamacpp") as srv:
        async with backend_for(srv, "llamacpp") as backend:
            events = await collect(backend, ask())
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.completion.content.replace("\u2060", "") == "<tool_call>"


async def test_failed_to_initialize_samplers_falls_back_to_json_in_the_prompt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Any JSON grammar with --reasoning-format none and a template that opens <think>.
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    turn = Turn(reasoning="think", content='{"ok": true}')
    with FakeModelServer([turn, turn], shape="llamacpp-r1-none") as srv:
        async with backend_for(srv, "llamacpp-r1-none") as backend:
            fmt = ResponseFormat(type="json_schema", json_schema=schema)
            first = await backend.complete(ask(response_format=fmt))
            second = await backend.complete(ask(response_format=fmt))
    assert first.content == second.content == '{"ok": true}'
    rejected, retried, later = (r.body or {} for r in srv.requests)
    assert "response_format" in rejected
    assert "response_format" not in retried and "response_format" not in later
    assert "JSON Schema" in retried["messages"][0]["content"]
    assert "Failed to initialize samplers" in caplog.text
