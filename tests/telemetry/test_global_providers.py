"""An application that installs OpenTelemetry SDK providers globally gets ponder's spans.

A subprocess (global providers can be set once per process): no ponder call
at all, just ``trace.set_tracer_provider`` as any OpenTelemetry app does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import asyncio, json
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from ponder.agents import Agent
    from ponder.backends import OpenAICompatibleBackend
    from ponder.testing import FakeModelServer, Turn

    async def run():
        with FakeModelServer([Turn(reasoning="r", content="ok")], shape="deepseek") as server:
            async with OpenAICompatibleBackend(base_url=server.base_url, model="m",
                                               profile="deepseek") as backend:
                return await Agent(backend).arun("hi")

    asyncio.run(run())  # no SDK provider yet: tracing is off and the run just works
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    asyncio.run(run())
    print(json.dumps(sorted(span.name for span in exporter.get_finished_spans())))
    """
)


@pytest.mark.slow
def test_global_sdk_providers_turn_ponder_tracing_on() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == ["chat m", "invoke_agent Agent"]
