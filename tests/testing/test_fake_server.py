"""The fake model server speaks each provider's wire: driven with raw httpx, not ponder's client."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ponder.testing import SHAPE_NAMES, FakeModelServer, ToolCallSpec, Turn
from ponder.testing.rules import (
    JSON_WORD_MESSAGE,
    R1_REASONING_INPUT_MESSAGE,
    REASONING_PASS_BACK_MESSAGE,
    TOOL_CHOICE_MESSAGE,
)

USER = [{"role": "user", "content": "What is 2+3?"}]
THINK = "Add 2 and 3 — é 中文."
CALL = ToolCallSpec("add", {"a": 2, "b": 3})
RAW_CALL_TEXT = (
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>add\n"
    '```json\n{"a": 2, "b": 3}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>'
)


def post(server: FakeModelServer, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/chat/completions", json=body, headers=headers)


def stream_events(server: FakeModelServer, body: dict[str, Any]) -> list[Any]:
    """Every SSE data payload, decoded; ``"[DONE]"`` kept as a string."""
    events: list[Any] = []
    url = f"{server.base_url}/chat/completions"
    with httpx.stream("POST", url, json={**body, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["transfer-encoding"] == "chunked"
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


def deltas(events: list[Any]) -> Iterator[dict[str, Any]]:
    for event in events:
        if isinstance(event, dict):
            for choice in event["choices"]:
                yield choice["delta"]


def joined(events: list[Any], key: str) -> str:
    return "".join(d.get(key) or "" for d in deltas(events))


def tool_calls(events: list[Any]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for delta in deltas(events):
        for part in delta.get("tool_calls") or []:
            call = calls.setdefault(part["index"], {"id": "", "name": "", "arguments": ""})
            call["id"] += part.get("id", "")
            call["name"] += part.get("function", {}).get("name", "")
            call["arguments"] += part.get("function", {}).get("arguments", "")
    return calls


# ---------------------------------------------------------------- DeepSeek shape


def test_deepseek_completion_has_exact_message_and_usage_shape() -> None:
    turn = Turn(reasoning=THINK, content="5", usage={"prompt_tokens": 30, "cached_tokens": 10})
    with FakeModelServer([turn]) as server:
        data = post(server, {"model": "deepseek-v4-pro", "messages": USER}).json()
    assert set(data) == {
        "id",
        "object",
        "created",
        "model",
        "system_fingerprint",
        "choices",
        "usage",
    }
    assert data["object"] == "chat.completion"
    assert data["model"] == "deepseek-v4-pro"
    assert data["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "5", "reasoning_content": THINK},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    completion = (len(THINK) + 3) // 4 + 1
    assert data["usage"] == {
        "prompt_tokens": 30,
        "completion_tokens": completion,
        "total_tokens": 30 + completion,
        "prompt_tokens_details": {"cached_tokens": 10},
        "completion_tokens_details": {"reasoning_tokens": (len(THINK) + 3) // 4},
        "prompt_cache_hit_tokens": 10,
        "prompt_cache_miss_tokens": 20,
    }


def test_deepseek_stream_chunks_reasoning_then_tool_call_deltas_and_final_usage() -> None:
    with FakeModelServer([Turn(reasoning=THINK, tool_calls=[CALL], chunk_chars=4)]) as server:
        events = stream_events(server, {"model": "m", "messages": USER})
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": None,
        "reasoning_content": "",
    }
    reasoning = [d["reasoning_content"] for d in deltas(chunks) if d.get("reasoning_content")]
    assert reasoning == [THINK[i : i + 4] for i in range(0, len(THINK), 4)]
    assert all(d["content"] is None for d in deltas(chunks))  # explicit nulls, as DeepSeek sends
    first_call = next(d["tool_calls"][0] for d in deltas(chunks) if d.get("tool_calls"))
    assert first_call["function"] == {"name": "add", "arguments": ""}
    assert first_call["type"] == "function" and first_call["id"].startswith("call_00_")
    assert tool_calls(chunks)[0]["arguments"] == '{"a": 2, "b": 3}'
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "tool_calls"
    assert final["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    assert all("usage" not in c for c in chunks[:-1])


# ---------------------------------------------------------------- every shape


@pytest.mark.parametrize(
    ("shape", "field"),
    [
        ("deepseek", "reasoning_content"),
        ("deepseek-r1", "reasoning_content"),
        ("vllm", "reasoning"),
        ("sglang", "reasoning_content"),
        ("ollama", "reasoning"),
        ("llamacpp", "reasoning_content"),
        ("openrouter", "reasoning"),
    ],
)
def test_reasoning_field_per_shape_streamed_and_not(shape: str, field: str) -> None:
    turn = Turn(reasoning=THINK, content="5", tool_calls=[CALL])
    other = {"reasoning", "reasoning_content"} - {field}
    with FakeModelServer([turn, turn], shape=shape) as server:
        message = post(server, {"model": "m", "messages": USER}).json()["choices"][0]["message"]
        events = stream_events(server, {"model": "m", "messages": USER})
    assert message[field] == THINK
    assert message["content"] == "5"
    assert not any(k in message for k in other)
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"a": 2, "b": 3}
    assert joined(events, field) == THINK
    # llama.cpp streams a "<tool_call>" content delta before a tool turn's calls.
    assert joined(events, "content") == "5" + ("<tool_call>" if shape == "llamacpp" else "")
    assert not any(k in d for d in deltas(events) for k in other)
    assert tool_calls(events)[0]["name"] == "add"
    assert json.loads(tool_calls(events)[0]["arguments"]) == {"a": 2, "b": 3}


@pytest.mark.parametrize("shape", ["vllm", "sglang", "ollama", "llamacpp"])
def test_usage_only_with_include_usage_as_a_final_chunk_without_choices(shape: str) -> None:
    body = {"model": "m", "messages": USER}
    with FakeModelServer([Turn(content="hi")] * 2, shape=shape) as server:
        plain = stream_events(server, body)
        counted = stream_events(server, {**body, "stream_options": {"include_usage": True}})
    assert not any(e.get("usage") for e in plain[:-1])
    assert counted[-2]["choices"] == []
    assert counted[-2]["usage"]["total_tokens"] > 0
    assert counted[-3]["choices"][0]["finish_reason"] == "stop"


def test_vllm_ignores_guided_json_and_uses_its_error_shape() -> None:
    with FakeModelServer([Turn(content="free text"), Turn(status=503)], shape="vllm") as server:
        ok = post(server, {"model": "m", "messages": USER, "guided_json": {"type": "object"}})
        failed = post(server, {"model": "m", "messages": USER})
    assert ok.status_code == 200
    assert ok.json()["choices"][0]["message"]["content"] == "free text"
    assert failed.status_code == 503
    assert failed.json() == {
        "error": {
            "message": "fake model error",
            "type": "ServiceUnavailableError",
            "param": None,
            "code": 503,
        }
    }


def test_openrouter_reasoning_details_and_usage_always_last() -> None:
    turn = Turn(reasoning="abc", content="x", chunk_chars=2)
    with FakeModelServer([turn, turn], shape="openrouter") as server:
        message = post(server, {"model": "m", "messages": USER}).json()["choices"][0]["message"]
        events = stream_events(server, {"model": "m", "messages": USER})
    detail = {"type": "reasoning.text", "text": "abc", "format": "unknown", "index": 0}
    assert message["reasoning_details"] == [detail]
    assert events[0]["id"].startswith("gen-")
    details = [
        d["reasoning_details"][0]["text"] for d in deltas(events) if "reasoning_details" in d
    ]
    assert details == ["ab", "c"]
    assert events[-2]["choices"] == [] and events[-2]["usage"]["total_tokens"] > 0


def test_ollama_v1_sends_each_tool_call_whole_with_role_on_every_delta() -> None:
    calls = [CALL, ToolCallSpec("mul", {"x": 1})]
    with FakeModelServer([Turn(tool_calls=calls)], shape="ollama") as server:
        events = stream_events(server, {"model": "m", "messages": USER})
    assert all(d["role"] == "assistant" for d in deltas(events))
    parts = [d["tool_calls"][0] for d in deltas(events) if d.get("tool_calls")]
    assert [(p["index"], p["function"]["name"]) for p in parts] == [(0, "add"), (1, "mul")]
    assert parts[1]["function"]["arguments"] == '{"x": 1}'


def test_llamacpp_none_keeps_think_inline_but_tools_native() -> None:
    with FakeModelServer(
        [Turn(reasoning="r", content="5", tool_calls=[CALL])], shape="llamacpp-none"
    ) as server:
        message = post(server, {"model": "m", "messages": USER}).json()["choices"][0]["message"]
    assert message["content"] == "<think>\nr\n</think>\n\n5"
    assert "reasoning_content" not in message
    assert message["tool_calls"][0]["function"]["name"] == "add"


@pytest.mark.parametrize(
    ("shape", "prefix"),
    [("raw", f"<think>\n{THINK}\n</think>\n\n"), ("distill", f"{THINK}\n</think>\n\n")],
)
def test_raw_engines_put_think_and_r1_tool_tokens_in_content(shape: str, prefix: str) -> None:
    turn = Turn(reasoning=THINK, content="Calling.", tool_calls=[CALL], chunk_chars=5)
    with FakeModelServer([turn, turn], shape=shape) as server:
        data = post(server, {"model": "m", "messages": USER}).json()
        events = stream_events(server, {"model": "m", "messages": USER})
    choice = data["choices"][0]
    assert choice["message"]["content"] == prefix + "Calling." + RAW_CALL_TEXT
    assert choice["message"]["tool_calls"] == []
    assert choice["finish_reason"] == "stop"
    assert joined(events, "content") == prefix + "Calling." + RAW_CALL_TEXT
    assert not tool_calls(events)


def test_string_arguments_are_sent_verbatim_even_when_broken() -> None:
    broken = ToolCallSpec("add", '{"a": 2, "b: 3}')
    with FakeModelServer([Turn(tool_calls=[broken])]) as server:
        events = stream_events(server, {"model": "m", "messages": USER})
    assert tool_calls(events)[0]["arguments"] == '{"a": 2, "b: 3}'


# ---------------------------------------------------------------- Ollama native


def test_ollama_native_ndjson_stream_and_listing_endpoints() -> None:
    turn = Turn(reasoning="hmm", content="5", tool_calls=[CALL], chunk_chars=2)
    with FakeModelServer([turn, turn], shape="ollama-native", model="deepseek-r1:8b") as server:
        assert not server.base_url.endswith("/v1")
        url = f"{server.base_url}/api/chat"
        with httpx.stream("POST", url, json={"model": "deepseek-r1:8b", "messages": USER}) as r:
            assert r.headers["content-type"] == "application/x-ndjson"
            lines = [json.loads(line) for line in r.iter_lines() if line]
        single = httpx.post(url, json={"model": "m", "messages": USER, "stream": False}).json()
        tags = httpx.get(f"{server.base_url}/api/tags").json()
        show = httpx.post(f"{server.base_url}/api/show", json={"model": "deepseek-r1:8b"}).json()
    assert "".join(x["message"].get("thinking", "") for x in lines) == "hmm"
    assert "".join(x["message"]["content"] for x in lines) == "5"
    calls = [c for x in lines for c in x["message"].get("tool_calls", [])]
    assert calls[0]["function"]["arguments"] == {"a": 2, "b": 3}  # an object, not a string
    assert [x["done"] for x in lines] == [False] * (len(lines) - 1) + [True]
    assert lines[-1]["done_reason"] == "stop"
    assert lines[-1]["prompt_eval_count"] > 0 and lines[-1]["eval_count"] > 0
    assert single["done"] is True
    assert single["message"]["thinking"] == "hmm"
    assert single["message"]["tool_calls"][0]["function"]["name"] == "add"
    assert tags["models"][0]["name"] == "deepseek-r1:8b"
    assert {"tools", "thinking"} <= set(show["capabilities"])


def test_ollama_shape_serves_both_apis_like_one_ollama_process() -> None:
    with FakeModelServer([Turn(content="a"), Turn(content="b")], shape="ollama") as server:
        root = server.base_url.removesuffix("/v1")
        native = httpx.post(f"{root}/api/chat", json={"messages": USER, "stream": False})
        openai = post(server, {"messages": USER})
        missing = httpx.post(f"{root}/api/nope")
    assert native.json()["message"]["content"] == "a" and native.json()["done"] is True
    assert openai.json()["choices"][0]["message"]["content"] == "b"
    assert missing.status_code == 404 and isinstance(missing.json()["error"], str)


def test_ollama_native_cannot_carry_raw_argument_text() -> None:
    turn = Turn(tool_calls=[ToolCallSpec("add", "{broken")])
    with FakeModelServer([turn], shape="ollama-native") as server:
        response = httpx.post(f"{server.base_url}/api/chat", json={"messages": USER})
    assert response.status_code == 500
    assert "JSON objects" in response.json()["error"]


# ---------------------------------------------------------------- provider rules


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def test_deepseek_v4_requires_reasoning_passed_back_on_tool_call_turns() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
    history: list[dict[str, Any]] = [
        *USER,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "5"},
    ]
    passed = [history[0], {**history[1], "reasoning_content": ""}, history[2]]
    with FakeModelServer([Turn(content="5")] * 2) as server:
        rejected = post(server, {"model": "m", "messages": history})
        accepted = post(server, {"model": "m", "messages": passed})
        without_thinking = post(
            server, {"model": "m", "messages": history, "thinking": {"type": "disabled"}}
        )
    assert rejected.status_code == 400
    assert rejected.json() == {
        "error": {
            "message": REASONING_PASS_BACK_MESSAGE,
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_request_error",
        }
    }
    assert accepted.status_code == 200
    assert without_thinking.status_code == 200


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"response_format": {"type": "json_object"}}, JSON_WORD_MESSAGE),
        ({"logprobs": True}, "Thinking mode does not support logprobs"),
        ({"top_logprobs": 2}, "Thinking mode does not support top_logprobs"),
        ({"tool_choice": "required"}, TOOL_CHOICE_MESSAGE),
        ({"tool_choice": {"type": "function", "function": {"name": "add"}}}, TOOL_CHOICE_MESSAGE),
        (
            {"response_format": {"type": "json_schema"}},
            "This response_format type is unavailable now",
        ),
    ],
)
def test_deepseek_rejects_what_the_real_api_rejects(extra: dict[str, Any], message: str) -> None:
    with FakeModelServer([Turn(content="{}")]) as server:
        response = post(server, {"model": "m", "messages": USER, **extra})
        lenient = FakeModelServer([Turn(content="{}")], enforce_rules=False)
        with lenient:
            allowed = post(lenient, {"model": "m", "messages": USER, **extra})
    assert response.status_code == 400
    assert _error(response)["message"] == message
    assert allowed.status_code == 200


def test_deepseek_json_mode_passes_when_the_prompt_says_json() -> None:
    messages = [{"role": "system", "content": [{"type": "text", "text": "Reply in JSON."}]}, *USER]
    with FakeModelServer([Turn(content="{}")]) as server:
        response = post(
            server, {"model": "m", "messages": messages, "response_format": {"type": "json_object"}}
        )
    assert response.status_code == 200


def test_legacy_r1_rejects_any_reasoning_content_in_input_but_not_missing_pass_back() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
    echoed = [*USER, {"role": "assistant", "content": "5", "reasoning_content": "r"}, *USER]
    stripped = [*USER, {"role": "assistant", "content": "", "tool_calls": [call]}]
    with FakeModelServer([Turn(content="5")], shape="deepseek-r1") as server:
        rejected = post(server, {"model": "deepseek-reasoner", "messages": echoed})
        accepted = post(server, {"model": "deepseek-reasoner", "messages": stripped})
    assert rejected.status_code == 400
    assert _error(rejected)["message"] == R1_REASONING_INPUT_MESSAGE
    assert accepted.status_code == 200


def test_ollama_accepts_only_its_four_reasoning_efforts() -> None:
    with FakeModelServer([Turn(content="x")] * 2, shape="ollama") as server:
        low = post(server, {"model": "m", "messages": USER, "reasoning_effort": "low"})
        bad = post(server, {"model": "m", "messages": USER, "reasoning_effort": "max"})
        nested = post(server, {"model": "m", "messages": USER, "reasoning": {"effort": "none"}})
    assert low.status_code == 200 and nested.status_code == 200
    assert bad.status_code == 400
    assert bad.json() == {
        "error": {
            "message": "invalid reasoning value: 'max' "
            '(must be "high", "medium", "low", or "none")',
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


def test_llamacpp_refuses_a_message_without_content_or_tool_calls() -> None:
    thought_only = [*USER, {"role": "assistant", "reasoning_content": "r"}, *USER]
    with FakeModelServer([Turn(content="x")], shape="llamacpp") as server:
        response = post(server, {"messages": thought_only})
        fine = post(server, {"messages": [*USER, {"role": "assistant", "content": None}, *USER]})
    assert response.status_code == 400
    assert _error(response)["message"].startswith("Failed to parse messages: Expected 'content'")
    assert _error(response)["type"] == "invalid_request_error"
    assert fine.status_code == 200


def test_missing_messages_is_a_400_in_the_provider_shape() -> None:
    with FakeModelServer([], shape="sglang") as server:
        response = post(server, {"model": "m"})
        not_json = httpx.post(f"{server.base_url}/chat/completions", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["object"] == "error" and response.json()["code"] == 400
    assert not_json.status_code == 400


# ---------------------------------------------------------------- auth and errors


@pytest.mark.parametrize(
    ("shape", "body"),
    [
        (
            "deepseek",
            {
                "error": {
                    "message": "Authentication Fails, Your api key: ****ong! is invalid",
                    "type": "authentication_error",
                    "param": None,
                    "code": "authentication_error",
                }
            },
        ),
        ("vllm", {"error": "Unauthorized"}),
        ("sglang", {"error": "Unauthorized"}),
        (
            "llamacpp",
            {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}},
        ),
        ("openrouter", {"error": {"code": 401, "message": "User not found."}}),
    ],
)
def test_wrong_key_is_a_401_in_the_provider_shape(shape: str, body: dict[str, Any]) -> None:
    with FakeModelServer([Turn(content="ok")], shape=shape, api_key="sk-secret-key") as server:
        wrong = post(server, {"messages": USER}, Authorization="Bearer sk-wrong!")
        missing = post(server, {"messages": USER})
        right = post(server, {"messages": USER}, Authorization="Bearer sk-secret-key")
    assert wrong.status_code == 401 and wrong.json() == body
    assert missing.status_code == 401
    assert right.status_code == 200
    assert "sk-secret-key" not in repr(server.requests)
    assert server.requests[2].headers["authorization"] == "Bearer [REDACTED]"


def test_scripted_http_errors_carry_retry_after() -> None:
    script = [Turn(status=429, error_message="slow down", retry_after=0.5), Turn(status=500)]
    with FakeModelServer(script, shape="llamacpp") as server:
        limited = post(server, {"messages": USER})
        failed = post(server, {"messages": USER})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "0.5"
    assert limited.json() == {
        "error": {"code": 429, "message": "slow down", "type": "invalid_request_error"}
    }
    assert "retry-after" not in failed.headers
    assert _error(failed)["type"] == "server_error"


def test_exhausted_script_and_raising_script_answer_500_with_a_clear_message() -> None:
    def script(body: dict[str, Any]) -> Turn:
        raise KeyError("no turn for this")

    with FakeModelServer([]) as server:
        exhausted = post(server, {"messages": USER})
    with FakeModelServer(script) as server:
        raised = post(server, {"messages": USER})
    assert exhausted.status_code == 500
    assert "script exhausted: 0 turn(s) scripted" in _error(exhausted)["message"]
    assert raised.status_code == 500
    assert "no turn for this" in _error(raised)["message"]


def test_unknown_route_and_wrong_method() -> None:
    with FakeModelServer([]) as server:
        missing = httpx.get(f"{server.base_url}/nope")
        wrong = httpx.get(f"{server.base_url}/chat/completions")
        models = httpx.get(f"{server.base_url}/models").json()
    assert missing.status_code == 404 and wrong.status_code == 405
    assert models["data"][0]["id"] == "fake-r1"


# ---------------------------------------------------------------- broken streams


def test_dropped_connection_ends_the_stream_without_done() -> None:
    turn = Turn(content="x" * 50, chunk_chars=5, drop_after_chunks=3)
    received: list[str] = []
    with FakeModelServer([turn]) as server:
        url = f"{server.base_url}/chat/completions"
        with (
            pytest.raises(httpx.RemoteProtocolError),
            httpx.stream("POST", url, json={"messages": USER, "stream": True}) as response,
        ):
            received.extend(line for line in response.iter_lines() if line.startswith("data: "))
    assert len(received) == 3
    assert "[DONE]" not in "".join(received)


@pytest.mark.parametrize(
    ("shape", "done"),
    [("deepseek", False), ("vllm", True), ("llamacpp", False), ("openrouter", False)],
)
def test_mid_stream_error_event(shape: str, done: bool) -> None:
    turn = Turn(content="x" * 50, chunk_chars=5, error_after_chunks=2, error_message="boom")
    with FakeModelServer([turn], shape=shape) as server:
        events = stream_events(server, {"messages": USER})
    assert (events[-1] == "[DONE]") is done
    error_event = events[2]
    assert error_event["error"]["message"] == "boom"
    if shape == "openrouter":
        assert error_event["choices"][0]["finish_reason"] == "error"
    assert len(events) == 3 + done


def test_ollama_native_mid_stream_error_line() -> None:
    turn = Turn(content="abcdef", chunk_chars=2, error_after_chunks=1, error_message="oom")
    with FakeModelServer([turn], shape="ollama-native") as server:
        response = httpx.post(f"{server.base_url}/api/chat", json={"messages": USER})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[-1] == {"error": "oom"} and len(lines) == 2


def test_split_events_arrive_in_pieces_and_reassemble_identically() -> None:
    turn = Turn(reasoning=THINK, content="«5»", tool_calls=[CALL], split_events=True)
    with FakeModelServer([turn, Turn(reasoning=THINK, content="«5»", tool_calls=[CALL])]) as server:
        url = f"{server.base_url}/chat/completions"
        with httpx.stream("POST", url, json={"messages": USER, "stream": True}) as response:
            pieces = list(response.iter_raw())
        whole = stream_events(server, {"messages": USER})
    assert len(pieces) > 20
    assert any(not p.endswith(b"\n\n") for p in pieces)
    text = b"".join(pieces).decode()
    split = [
        json.loads(x[6:]) if x != "data: [DONE]" else "[DONE]" for x in text.split("\n\n") if x
    ]
    assert joined(split, "reasoning_content") == joined(whole, "reasoning_content") == THINK
    assert joined(split, "content") == "«5»"
    assert tool_calls(split)[0]["arguments"] == tool_calls(whole)[0]["arguments"]


@pytest.mark.parametrize(
    ("shape", "comment"), [("deepseek", ": keep-alive"), ("openrouter", ": OPENROUTER PROCESSING")]
)
def test_keepalive_comments_are_interleaved(shape: str, comment: str) -> None:
    with FakeModelServer(
        [Turn(content="abc", chunk_chars=1, keepalive_comments=True)], shape=shape
    ) as server:
        url = f"{server.base_url}/chat/completions"
        with httpx.stream("POST", url, json={"messages": USER, "stream": True}) as response:
            lines = [line for line in response.iter_lines() if line]
    comments = [line for line in lines if line.startswith(":")]
    data = [line for line in lines if line.startswith("data: ")]
    assert set(comments) == {comment}
    assert len(comments) == len(data) - 1  # one before every chunk, none before [DONE]


def test_first_byte_delay_holds_the_response() -> None:
    with FakeModelServer([Turn(content="x", first_byte_delay_s=0.2)]) as server:
        start = time.perf_counter()
        post(server, {"messages": USER})
    assert time.perf_counter() - start >= 0.2


# ---------------------------------------------------------------- server mechanics


def test_callable_script_sees_the_request_and_requests_are_recorded() -> None:
    seen: list[dict[str, Any]] = []

    def script(body: dict[str, Any]) -> Turn:
        seen.append(body)
        return Turn(content=f"echo {body['messages'][-1]['content']}")

    with FakeModelServer(script) as server:
        data = post(server, {"model": "m", "messages": USER}, **{"x-api-key": "k"}).json()
    assert data["choices"][0]["message"]["content"] == "echo What is 2+3?"
    assert seen == [{"model": "m", "messages": USER}]
    (recorded,) = server.requests
    assert (recorded.method, recorded.path, recorded.body) == (
        "POST",
        "/v1/chat/completions",
        {"model": "m", "messages": USER},
    )
    assert recorded.headers["x-api-key"] == "[REDACTED]"


def test_a_subprocess_can_talk_to_the_server() -> None:
    code = (
        "import httpx, sys; r = httpx.post(sys.argv[1] + '/chat/completions', "
        "json={'messages': [{'role': 'user', 'content': 'hi'}]}); "
        "print(r.json()['choices'][0]['message']['content'])"
    )
    with FakeModelServer([Turn(content="from afar")]) as server:
        done = subprocess.run(
            [sys.executable, "-c", code, server.base_url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    assert done.stdout.strip() == "from afar"


def test_keep_alive_serves_several_requests_on_one_socket() -> None:
    body = json.dumps({"messages": USER}).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with FakeModelServer([Turn(content="one"), Turn(content="two")]) as server:
        port = int(server.base_url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            received = b""
            for _ in range(2):
                sock.sendall(head + body)
                while received.count(b'"finish_reason"') < _ + 1:
                    received += sock.recv(65536)
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert b'"content":"one"' in received and b'"content":"two"' in received


async def test_async_context_manager_and_200_concurrent_streams() -> None:
    turn = Turn(reasoning="think " * 10, content="answer " * 10, chunk_chars=16)
    limits = httpx.Limits(max_connections=200)
    async with (
        FakeModelServer(lambda body: turn) as server,
        httpx.AsyncClient(limits=limits) as client,
    ):

        async def one() -> str:
            body = {"messages": USER, "stream": True}
            url = f"{server.base_url}/chat/completions"
            async with client.stream("POST", url, json=body) as response:
                return (await response.aread()).decode()

        bodies = await asyncio.gather(*(one() for _ in range(200)))
    assert all(b.endswith("data: [DONE]\n\n") for b in bodies)
    assert len(server.requests) == 200


def test_bad_construction_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unknown shape 'openai'"):
        FakeModelServer([], shape="openai")
    with pytest.raises(ValueError, match="chunk_chars"):
        Turn(chunk_chars=0)
    with pytest.raises(ValueError, match="unknown usage keys: total"):
        Turn(usage={"total": 3})
    with pytest.raises(RuntimeError, match="not running"):
        _ = FakeModelServer([]).base_url
    assert "ollama-native" in SHAPE_NAMES
