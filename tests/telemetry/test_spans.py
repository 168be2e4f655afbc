"""The span tree, attribute names and values of a tool-using run, on three wire shapes.

Real OpenTelemetry SDK (in-memory span exporter and metric reader), real
LangGraph, the fake model on loopback speaking DeepSeek's API, raw text with
inline ``<think>`` and R1 tool tokens, and Ollama's native API.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from otel_helpers import Otel, attr, backend_for, install, messages

from ponder.agents import Agent
from ponder.testing import FakeModelServer, ToolCallSpec, Turn


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def script() -> list[Turn]:
    return [
        Turn(reasoning="Add first.", tool_calls=[ToolCallSpec("add", {"a": 20, "b": 22})]),
        Turn(reasoning="Now double-check.", tool_calls=[ToolCallSpec("add", {"a": 40, "b": 2})]),
        Turn(reasoning="Both say 42.", content="The sum is 42."),
    ]


@pytest.fixture
def otel() -> Iterator[Otel]:
    yield from install()


@pytest.mark.parametrize("shape", ["deepseek", "raw", "ollama-native"])
async def test_span_tree_and_attributes(otel: Otel, shape: str) -> None:
    with FakeModelServer(script(), shape=shape) as server:
        async with backend_for(server, shape) as backend:
            result = await Agent(backend, [add]).arun("What is 20 + 22?")
    assert result.outcome == "answered" and result.answer == "The sum is 42."

    spans = otel.finished()
    [run] = otel.by_operation("invoke_agent")
    chats = sorted(otel.by_operation("chat"), key=lambda s: attr(s, "ponder.step"))
    tools = sorted(otel.by_operation("execute_tool"), key=lambda s: attr(s, "ponder.step"))
    assert len(spans) == 6 and len(chats) == 3 and len(tools) == 2
    assert run.parent is None and run.name == "invoke_agent Agent"
    assert run.kind is SpanKind.INTERNAL
    for child in chats + tools:
        assert child.parent is not None and child.parent.span_id == run.context.span_id
        assert child.context.trace_id == run.context.trace_id
        assert run.start_time <= child.start_time <= child.end_time <= run.end_time

    provider = "deepseek" if shape == "deepseek" else attr(chats[0], "gen_ai.provider.name")
    assert provider == {"deepseek": "deepseek", "raw": "openai-compatible"}.get(shape, "ollama")
    assert attr(run, "gen_ai.provider.name") is None  # not on the invoke-agent internal span
    assert attr(run, "gen_ai.usage.cache_read.input_tokens") is None
    assert attr(run, "gen_ai.agent.name") == "Agent"
    assert attr(run, "gen_ai.request.model") == "fake-r1"
    assert attr(run, "gen_ai.conversation.id") == result.thread_id
    assert attr(run, "ponder.outcome") == "answered"
    assert attr(run, "ponder.steps") == 3
    assert attr(run, "ponder.tool_calls") == 2
    assert attr(run, "ponder.think_skipped") is False
    assert attr(run, "ponder.retries") == 0 and attr(run, "ponder.json_retries") == 0
    assert attr(run, "ponder.budget") is None
    assert attr(run, "gen_ai.usage.input_tokens") == result.usage.prompt_tokens
    assert attr(run, "gen_ai.usage.output_tokens") == result.usage.completion_tokens

    for step, chat in enumerate(chats, 1):
        assert chat.name == "chat fake-r1" and chat.kind is SpanKind.CLIENT
        assert attr(chat, "gen_ai.operation.name") == "chat"
        assert attr(chat, "gen_ai.provider.name") == provider
        assert attr(chat, "gen_ai.request.model") == "fake-r1"
        assert attr(chat, "gen_ai.response.model") == "fake-r1"
        assert attr(chat, "gen_ai.request.temperature") == 0.6
        assert attr(chat, "gen_ai.request.top_p") == 0.95
        assert attr(chat, "server.address") == "127.0.0.1"
        assert attr(chat, "ponder.step") == step
        assert attr(chat, "gen_ai.usage.input_tokens") > 0
        assert attr(chat, "gen_ai.usage.output_tokens") > 0
        assert attr(chat, "gen_ai.response.time_to_first_chunk") >= 0
        assert chat.status.status_code is StatusCode.UNSET
    finish = [tuple(attr(c, "gen_ai.response.finish_reasons")) for c in chats]
    assert finish == [("tool_call",), ("tool_call",), ("stop",)]
    assert sum(attr(c, "gen_ai.usage.input_tokens") for c in chats) == result.usage.prompt_tokens
    if shape == "deepseek":  # the only wire here that reports reasoning tokens separately
        assert [attr(c, "gen_ai.usage.reasoning.output_tokens") for c in chats] == [3, 5, 3]

    for step, (tool, record) in enumerate(zip(tools, result.tool_calls, strict=True), 1):
        assert tool.name == "execute_tool add" and tool.kind is SpanKind.INTERNAL
        assert attr(tool, "gen_ai.tool.name") == "add"
        assert attr(tool, "gen_ai.tool.call.id") == record.id
        assert attr(tool, "gen_ai.tool.type") == "function"
        assert attr(tool, "ponder.step") == step
        assert attr(tool, "ponder.tool.ok") is True
        # content capture is off by default: no arguments, results or messages anywhere
        assert attr(tool, "gen_ai.tool.call.arguments") is None
        assert attr(tool, "gen_ai.tool.call.result") is None
    for span in spans:
        for name in ("gen_ai.input.messages", "gen_ai.output.messages"):
            assert attr(span, name) is None
    exported = otel.everything_exported()
    for text in ("Add first.", "double-check", "What is 20 + 22?", "The sum is 42."):
        assert text not in exported

    points = otel.metric_points()
    usage = points["gen_ai.client.token.usage"]
    by_type = {p.attributes["gen_ai.token.type"]: p for p in usage}
    assert by_type["input"].sum == result.usage.prompt_tokens and by_type["input"].count == 3
    assert by_type["output"].sum == result.usage.completion_tokens
    assert by_type["input"].attributes["gen_ai.operation.name"] == "chat"
    assert by_type["input"].attributes["gen_ai.provider.name"] == provider
    assert list(by_type["input"].explicit_bounds)[:3] == [1, 4, 16]
    [duration] = points["gen_ai.client.operation.duration"]
    assert duration.count == 3 and duration.attributes["gen_ai.request.model"] == "fake-r1"
    [outcomes] = points["ponder.run.outcomes"]
    assert outcomes.value == 1 and outcomes.attributes["ponder.outcome"] == "answered"


async def test_content_capture_uses_the_conventions_message_format() -> None:
    otel_gen = install(capture_content=True)
    otel = next(otel_gen)
    try:
        with FakeModelServer(script(), shape="deepseek") as server:
            async with backend_for(server, "deepseek") as backend:
                result = await Agent(backend, [add], system_prompt="Be brief.").arun("20 + 22?")
        chats = sorted(otel.by_operation("chat"), key=lambda s: attr(s, "ponder.step"))
        first_call = result.tool_calls[0]
        assert messages(chats[0], "gen_ai.input.messages") == [
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "content": "20 + 22?"}]},
        ]
        assert messages(chats[0], "gen_ai.output.messages") == [
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": first_call.id,
                        "name": "add",
                        "arguments": {"a": 20, "b": 22},
                    }
                ],
                "finish_reason": "tool_call",
            }
        ]
        second_input = messages(chats[1], "gen_ai.input.messages")
        assert second_input[-1] == {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": first_call.id, "response": "42"}],
        }
        assert messages(chats[2], "gen_ai.output.messages")[0]["parts"] == [
            {"type": "text", "content": "The sum is 42."}
        ]
        tool = sorted(otel.by_operation("execute_tool"), key=lambda s: attr(s, "ponder.step"))[0]
        assert attr(tool, "gen_ai.tool.call.arguments") == '{"a":20,"b":22}'
        assert attr(tool, "gen_ai.tool.call.result") == "42"
        # reasoning capture is a separate switch: off, so no reasoning part anywhere
        assert "reasoning" not in "".join(
            str(attr(s, "gen_ai.output.messages")) + str(attr(s, "gen_ai.input.messages"))
            for s in otel.finished()
        )
    finally:
        otel_gen.close()


async def test_tracing_off_exports_nothing() -> None:
    otel_gen = install()
    otel = next(otel_gen)
    try:
        from ponder import telemetry

        telemetry.configure(enabled=False)
        with FakeModelServer(script(), shape="deepseek") as server:
            async with backend_for(server, "deepseek") as backend:
                result = await Agent(backend, [add]).arun("What is 20 + 22?")
        assert result.ok
        assert otel.finished() == [] and otel.metric_points() == {}
    finally:
        otel_gen.close()


async def test_counters_for_think_skips_tool_errors_and_retries(otel: Otel) -> None:
    script = [
        Turn(reasoning="", tool_calls=[ToolCallSpec("subtract", {"a": 1})]),
        Turn(status=503),
        Turn(reasoning="Use add instead.", content="I only have add."),
    ]
    with FakeModelServer(script, shape="deepseek") as server:
        async with backend_for(server, "deepseek") as backend:
            result = await Agent(backend, [add]).arun("1 - 1?")
    assert result.ok and result.tool_calls[0].error_kind == "unknown_tool"
    points = otel.metric_points()
    [skips] = points["ponder.think_skips"]
    assert skips.value == 1 and skips.attributes["gen_ai.provider.name"] == "deepseek"
    [errors] = points["ponder.tool.errors"]
    assert errors.value == 1
    assert errors.attributes == {"error.type": "unknown_tool", "gen_ai.tool.name": "subtract"}
    [retries] = points["ponder.retries"]
    assert retries.value == 1 and retries.attributes["ponder.retry.kind"] == "transport"
    chats = sorted(otel.by_operation("chat"), key=lambda s: attr(s, "ponder.step"))
    assert [attr(c, "ponder.think_skipped") for c in chats] == [True, False]
    assert [attr(c, "ponder.retries") for c in chats] == [0, 1]
    [retry] = [e for e in chats[1].events if e.name == "ponder.retry"]
    assert retry.attributes["ponder.retry.attempt"] == 1
    assert "ponder.retry.reason" not in retry.attributes  # content capture is off
    [tool] = otel.by_operation("execute_tool")
    assert attr(tool, "error.type") == "unknown_tool" and attr(tool, "ponder.tool.ok") is False
    [run] = otel.by_operation("invoke_agent")
    assert attr(run, "ponder.retries") == 1


async def test_a_profile_correction_is_on_the_call_and_the_run(otel: Otel) -> None:
    from ponder.backends import get_profile

    stale = get_profile("deepseek").with_overrides(replay="never", replay_placeholder=False)
    with FakeModelServer(script(), shape="deepseek") as server:
        async with backend_for(server, "deepseek", model="deepseek-v4-pro", profile=stale) as b:
            result = await Agent(b, [add]).arun("What is 20 + 22?")
    assert result.ok
    chats = sorted(otel.by_operation("chat"), key=lambda s: attr(s, "ponder.step"))
    corrected = [attr(c, "ponder.profile_corrected_fields") for c in chats]
    assert corrected[0] is None and corrected[2] is None
    assert corrected[1] is not None and "replay" in corrected[1]
    [run] = otel.by_operation("invoke_agent")
    assert attr(run, "ponder.profile_corrections") == len(corrected[1])
    assert "replay" in attr(run, "ponder.profile_corrected_fields")
