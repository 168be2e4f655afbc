"""Wire-contract tests: assertions on the request bodies the fake server received.

The fake enforces the providers' known 400 rules (DeepSeek V4 pass-back, legacy
R1 no-reasoning-input, the JSON word, forced tool_choice, logprobs), so a
request shaped wrongly fails the test twice over.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pytest
from backend_helpers import ask, backend_for, collect

from ponder.backends import (
    AssistantMessage,
    BadRequestError,
    ChatRequest,
    Completion,
    NamedToolChoice,
    OpenAICompatibleBackend,
    ResponseFormat,
    SystemMessage,
    ToolMessage,
    ToolSpec,
    UserMessage,
)
from ponder.backends.types import Message
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

TOOLS = (ToolSpec(name="calc", parameters={"type": "object", "properties": {}}),)
SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


async def _tool_loop_then_second_turn(backend: OpenAICompatibleBackend) -> None:
    """Two tool calls, an answer, then a second user turn: four requests."""
    history: list[Message] = [UserMessage(content="Compute 2+2, then 3+3.")]

    async def step() -> Completion:
        completion = await backend.complete(ChatRequest(messages=tuple(history), tools=TOOLS))
        history.append(completion.to_message())
        for call in completion.tool_calls:
            history.append(ToolMessage(tool_call_id=call.id, content="4"))
        return completion

    await step()
    await step()
    answer = await step()
    assert answer.content == "Both done."
    history.append(UserMessage(content="And 5+5?"))
    await step()


def _loop_script() -> list[Turn]:
    return [
        Turn(reasoning="THOUGHT-1", tool_calls=[ToolCallSpec("calc", {"e": "2+2"})]),
        Turn(reasoning="THOUGHT-2", tool_calls=[ToolCallSpec("calc", {"e": "3+3"})]),
        Turn(reasoning="THOUGHT-3", content="Both done."),
        Turn(reasoning="THOUGHT-4", content="10."),
    ]


def _assistants(body: dict[str, Any] | None) -> list[dict[str, Any]]:
    assert body is not None
    return [m for m in body["messages"] if m["role"] == "assistant"]


async def test_deepseek_v4_replays_reasoning_on_tool_turns_across_user_turns() -> None:
    with FakeModelServer(_loop_script(), shape="deepseek") as srv:
        async with backend_for(srv, "deepseek") as backend:
            await _tool_loop_then_second_turn(backend)
    last = _assistants(srv.requests[3].body)
    assert [m.get("reasoning_content") for m in last] == ["THOUGHT-1", "THOUGHT-2", ""]
    for message in last:
        assert "<think>" not in message["content"]
    assert srv.requests[3].body is not None
    tool_messages = [m for m in srv.requests[3].body["messages"] if m["role"] == "tool"]
    assert all(m["tool_call_id"].startswith("call_") for m in tool_messages)
    calls = last[0]["tool_calls"]
    assert calls[0]["type"] == "function"
    assert calls[0]["function"] == {"name": "calc", "arguments": '{"e": "2+2"}'}


async def test_legacy_r1_never_sends_reasoning() -> None:
    with FakeModelServer(_loop_script(), shape="deepseek-r1") as srv:
        async with backend_for(srv, "deepseek-r1") as backend:
            await _tool_loop_then_second_turn(backend)
    for request in srv.requests:
        assert request.body is not None
        assert all("reasoning_content" not in m for m in request.body["messages"])


@pytest.mark.parametrize("shape", ["vllm", "sglang", "llamacpp", "ollama"])
async def test_local_engines_never_replay_reasoning(shape: str) -> None:
    with FakeModelServer(_loop_script(), shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            await _tool_loop_then_second_turn(backend)
    for message in _assistants(srv.requests[3].body):
        assert not {"reasoning_content", "reasoning", "reasoning_details"} & message.keys()


async def test_openrouter_replays_details_in_the_current_turn_only() -> None:
    with FakeModelServer(_loop_script(), shape="openrouter") as srv:
        async with backend_for(srv, "openrouter") as backend:
            await _tool_loop_then_second_turn(backend)
    in_turn = _assistants(srv.requests[2].body)
    assert [m["reasoning_details"][0]["text"] for m in in_turn] == ["THOUGHT-1", "THOUGHT-2"]
    assert all("reasoning_details" not in m for m in _assistants(srv.requests[3].body))


@pytest.mark.parametrize(
    ("shape", "sent"),
    [("vllm", True), ("llamacpp", True), ("deepseek", False), ("deepseek-r1", False)],
)
async def test_sampling_defaults_and_their_omission(shape: str, sent: bool) -> None:
    with FakeModelServer([Turn(content="x")], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            await backend.complete(ask())
    body = srv.requests[0].body
    assert body is not None
    if sent:
        assert (body["temperature"], body["top_p"]) == (0.6, 0.95)
    else:
        assert "temperature" not in body and "top_p" not in body


async def test_temperature_outside_recommended_range_warns_once() -> None:
    with FakeModelServer([Turn(content="x")] * 2, shape="vllm") as srv:
        async with backend_for(srv, "vllm") as backend:
            with pytest.warns(UserWarning, match="temperature 1.0"):
                await backend.complete(ask(temperature=1.0))
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a second warning would fail the test
                await backend.complete(ask(temperature=1.0))


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("vllm", {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}),
        ("ollama", {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}),
        ("llamacpp", {"type": "json_object", "schema": SCHEMA}),
        ("deepseek", {"type": "json_object"}),
    ],
)
async def test_response_format_per_profile(shape: str, expected: dict[str, Any]) -> None:
    fmt = ResponseFormat(type="json_schema", json_schema=SCHEMA)
    with FakeModelServer([Turn(content='{"answer": 4}')], shape=shape) as srv:
        async with backend_for(srv, shape) as backend:
            completion = await backend.complete(ask("What is 2+2?", response_format=fmt))
    assert completion.content == '{"answer": 4}'
    body = srv.requests[0].body
    assert body is not None
    assert body["response_format"] == expected
    assert "guided_json" not in body


async def test_deepseek_json_mode_injects_the_word_json_and_the_schema() -> None:
    fmt = ResponseFormat(type="json_schema", json_schema=SCHEMA)
    request = ChatRequest(
        messages=(SystemMessage(content="You are terse."), UserMessage(content="2+2?")),
        response_format=fmt,
    )
    with FakeModelServer([Turn(content='{"answer": 4}')], shape="deepseek") as srv:
        async with backend_for(srv, "deepseek") as backend:
            await backend.complete(request)
    body = srv.requests[0].body
    assert body is not None
    system = body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You are terse.\n\n")
    assert "JSON" in system["content"] and '"answer"' in system["content"]
    assert len(body["messages"]) == 2


async def test_json_object_adds_a_system_message_when_none_exists() -> None:
    with FakeModelServer([Turn(content="{}")], shape="deepseek") as srv:
        async with backend_for(srv, "deepseek") as backend:
            await backend.complete(ask("hi", response_format=ResponseFormat(type="json_object")))
    body = srv.requests[0].body
    assert body is not None
    assert body["messages"][0] == {
        "role": "system",
        "content": "Respond with a single JSON object and nothing else.",
    }


async def test_tool_choice_is_dropped_for_ollama_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ponder.backends")
    with FakeModelServer([Turn(content="x")] * 2, shape="ollama") as srv:
        async with backend_for(srv, "ollama") as backend:
            await backend.complete(ask(tools=TOOLS, tool_choice="required"))
            await backend.complete(ask(tools=TOOLS, tool_choice="required"))
    for request in srv.requests:
        assert request.body is not None
        assert "tool_choice" not in request.body
        assert request.body["tools"][0]["function"]["name"] == "calc"
    assert sum("tool_choice" in r.getMessage() for r in caplog.records) == 1


async def test_named_tool_choice_is_sent_where_supported() -> None:
    with FakeModelServer([Turn(content="x")], shape="vllm") as srv:
        async with backend_for(srv, "vllm") as backend:
            await backend.complete(ask(tools=TOOLS, tool_choice=NamedToolChoice(name="calc")))
    body = srv.requests[0].body
    assert body is not None
    assert body["tool_choice"] == {"type": "function", "function": {"name": "calc"}}


async def test_deepseek_forced_tool_choice_and_logprobs_are_never_sent() -> None:
    with FakeModelServer([Turn(content="x")], shape="deepseek") as srv:
        async with backend_for(srv, "deepseek") as backend:
            await backend.complete(
                ask(tools=TOOLS, tool_choice="required", extra_body={"logprobs": True})
            )
    body = srv.requests[0].body
    assert body is not None
    assert not {"tool_choice", "logprobs", "top_logprobs"} & body.keys()


async def test_strict_tools_go_to_the_deepseek_beta_path() -> None:
    strict = (ToolSpec(name="calc", strict=True),)
    with FakeModelServer([Turn(content="x")], shape="deepseek") as srv:
        async with backend_for(srv, "deepseek", max_retries=0) as backend:
            with pytest.raises(BadRequestError, match="404"):  # the fake serves no /beta
                await backend.complete(ask(tools=strict))
    assert srv.requests[0].path == "/beta/chat/completions"
    body = srv.requests[0].body
    assert body is not None
    assert body["tools"][0]["function"]["strict"] is True


async def test_thinking_switches_per_profile() -> None:
    expectations: dict[str, dict[str, Any]] = {
        "deepseek": {"thinking": {"type": "enabled"}, "reasoning_effort": "high"},
        "vllm": {"chat_template_kwargs": {"thinking": True}},
        "openrouter": {"reasoning": {"enabled": True, "effort": "high"}},
        "ollama": {"reasoning_effort": "high"},
    }
    for shape, fields in expectations.items():
        with FakeModelServer([Turn(content="x")], shape=shape) as srv:
            async with backend_for(srv, shape) as backend:
                await backend.complete(ask(reasoning_effort="high"))
        body = srv.requests[0].body
        assert body is not None
        assert {k: body.get(k) for k in fields} == fields, shape


async def test_streaming_asks_for_usage() -> None:
    with FakeModelServer([Turn(content="x")], shape="vllm") as srv:
        async with backend_for(srv, "vllm") as backend:
            await collect(backend, ask())
    body = srv.requests[0].body
    assert body is not None
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_request_extra_body_is_merged_last() -> None:
    with FakeModelServer([Turn(content="x")], shape="vllm") as srv:
        async with backend_for(srv, "vllm") as backend:
            await backend.complete(
                ask(extra_body={"chat_template_kwargs": {"enable_thinking": True}, "top_k": 20})
            )
    body = srv.requests[0].body
    assert body is not None
    assert body["chat_template_kwargs"] == {"thinking": True, "enable_thinking": True}
    assert body["top_k"] == 20


@pytest.mark.parametrize(
    ("shape", "path", "extra"),
    [
        ("deepseek", "/beta/chat/completions", {}),
        (
            "vllm",
            "/v1/chat/completions",
            {"add_generation_prompt": False, "continue_final_message": True},
        ),
        ("llamacpp", "/v1/chat/completions", {}),
    ],
)
async def test_force_thinking_prefills_an_open_think(
    shape: str, path: str, extra: dict[str, Any]
) -> None:
    turn = Turn(content="the thought goes on\n</think>\n\nAnswer.")
    with FakeModelServer([turn], shape=shape) as srv:
        async with backend_for(srv, shape, max_retries=0) as backend:
            try:
                completion = await backend.complete(ask(force_thinking=True))
            except BadRequestError:
                completion = None  # the fake has no /beta route
    request = srv.requests[0]
    assert request.path == path
    assert request.body is not None
    prefill = request.body["messages"][-1]
    assert prefill["role"] == "assistant" and prefill["content"] == "<think>\n"
    assert prefill.get("prefix") is (True if shape == "deepseek" else None)
    assert {k: request.body.get(k) for k in extra} == extra
    if completion is not None and shape != "deepseek":
        assert completion.reasoning == "the thought goes on"
        assert completion.content == "Answer."


async def test_force_thinking_warns_where_no_prefill_exists() -> None:
    with FakeModelServer([Turn(content="x")], shape="ollama") as srv:
        async with backend_for(srv, "ollama") as backend:
            with pytest.warns(UserWarning, match="force_thinking"):
                await backend.complete(ask(force_thinking=True))
    body = srv.requests[0].body
    assert body is not None
    assert body["messages"][-1]["role"] == "user"


async def test_retired_deepseek_models_are_mapped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ponder.backends")
    with FakeModelServer([Turn(content="x")] * 2, shape="deepseek") as srv:
        async with backend_for(srv, "deepseek", model="deepseek-chat") as backend:
            await backend.complete(ask())
            await backend.complete(ask(model="deepseek-reasoner"))
    first, second = (r.body for r in srv.requests)
    assert first is not None and second is not None
    assert (first["model"], first["thinking"]) == ("deepseek-v4-flash", {"type": "disabled"})
    assert (second["model"], second["thinking"]) == ("deepseek-v4-pro", {"type": "enabled"})
    assert sum("retired" in r.getMessage() for r in caplog.records) == 2


async def test_api_key_is_sent_as_bearer_and_never_shown() -> None:
    key = "sk-test-SECRET-123456"
    with FakeModelServer([Turn(content="x")], shape="deepseek", api_key=key) as srv:
        async with backend_for(srv, "deepseek", api_key=key) as backend:
            await backend.complete(ask())
            assert key not in repr(backend)
    assert "authorization" in srv.requests[0].headers  # the fake checked it, then redacted it


async def test_assistant_message_with_prefix_is_continued() -> None:
    request = ChatRequest(
        messages=(UserMessage(content="Say hi"), AssistantMessage(content="Hi", prefix=True))
    )
    with FakeModelServer([Turn(content="x")], shape="vllm") as srv:
        async with backend_for(srv, "vllm") as backend:
            await backend.complete(request)
    body = srv.requests[0].body
    assert body is not None
    assert body["messages"][-1] == {"role": "assistant", "content": "Hi"}
    assert body["continue_final_message"] is True


async def test_ollama_native_body() -> None:
    fmt = ResponseFormat(type="json_schema", json_schema=SCHEMA)
    script = [
        Turn(reasoning="Need calc.", tool_calls=[ToolCallSpec("calc", {"e": "2+2"})]),
        Turn(content='{"answer": 4}'),
    ]
    with FakeModelServer(script, shape="ollama-native") as srv:
        async with backend_for(srv, "ollama-native") as backend:
            first = await backend.complete(ask(tools=TOOLS, max_tokens=256))
            history = (
                UserMessage(content="What is 2+2?"),
                first.to_message(),
                ToolMessage(tool_call_id=first.tool_calls[0].id, content="4", name="calc"),
            )
            await backend.complete(ChatRequest(messages=history, response_format=fmt))
    assert [r.path for r in srv.requests] == ["/api/chat", "/api/chat"]
    body, follow_up = srv.requests[0].body, srv.requests[1].body
    assert body is not None and follow_up is not None
    assert body["think"] is True and body["stream"] is False
    assert body["options"] == {"temperature": 0.6, "top_p": 0.95, "num_predict": 256}
    assert follow_up["format"] == SCHEMA
    assistant, tool = follow_up["messages"][1], follow_up["messages"][2]
    assert assistant["tool_calls"] == [{"function": {"name": "calc", "arguments": {"e": "2+2"}}}]
    assert "thinking" not in assistant  # replay "never" on Ollama
    assert tool == {"role": "tool", "content": "4", "tool_name": "calc"}
