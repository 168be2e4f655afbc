"""``setup_otlp`` (what ``--otel`` calls) sends real OTLP/HTTP protobuf to a loopback receiver.

The endpoint comes from the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``; the
receiver decodes the bodies with OpenTelemetry's own protobuf classes.
"""

from __future__ import annotations

from typing import Any

import pytest
from otel_helpers import backend_for
from otlp_receiver import OtlpReceiver

from ponder import telemetry
from ponder.agents import Agent
from ponder.testing import FakeModelServer, ToolCallSpec, Turn

CANARY = "CANARY-otlp-7d1e0b"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _attributes(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in span.attributes:
        value = kv.value
        field = value.WhichOneof("value")
        out[kv.key] = (
            list(v.string_value for v in value.array_value.values)
            if field == "array_value"
            else getattr(value, field)
        )
    return out


@pytest.mark.parametrize("shape", ["deepseek", "ollama-native"])
async def test_otlp_http_export_to_a_loopback_receiver(
    monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    script = [
        Turn(reasoning=f"{CANARY} add", tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})]),
        Turn(reasoning=f"{CANARY} done", content="5"),
    ]
    with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "ponder-test")
        shutdown = telemetry.setup_otlp()
        try:
            with FakeModelServer(script, shape=shape) as server:
                async with backend_for(server, shape) as backend:
                    result = await Agent(backend, [add]).arun("2 + 3?")
        finally:
            shutdown()  # flushes spans and metrics
    assert result.ok and telemetry.current_settings().tracer_provider is None

    spans = {span.name: span for span in receiver.spans()}
    assert set(spans) == {"invoke_agent Agent", "chat fake-r1", "execute_tool add"}
    assert len(receiver.spans()) == 4
    run = spans["invoke_agent Agent"]
    tool = spans["execute_tool add"]
    assert tool.parent_span_id == run.span_id and tool.trace_id == run.trace_id
    assert _attributes(run)["ponder.outcome"] == "answered"
    assert _attributes(tool)["gen_ai.tool.call.id"] == result.tool_calls[0].id
    chat = _attributes(spans["chat fake-r1"])
    assert chat["gen_ai.operation.name"] == "chat" and chat["gen_ai.request.model"] == "fake-r1"
    resource = receiver.traces[0].resource_spans[0].resource
    assert any(kv.value.string_value == "ponder-test" for kv in resource.attributes)
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= (
        receiver.metric_names()
    )
    assert not any(CANARY.encode() in body for body in receiver.bodies)
