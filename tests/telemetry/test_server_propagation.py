"""The server continues the caller's W3C trace: the agent's spans join the web backend's trace.

A real uvicorn server on loopback; the caller starts a span, injects
``traceparent`` with OpenTelemetry's propagator and calls the native API
(one-shot and SSE stream). The run's ``invoke_agent`` span must be that
span's child.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from opentelemetry import propagate, trace
from otel_helpers import Otel, attr, backend_for, install

from ponder.agents import Agent
from ponder.server import create_app
from ponder.testing import FakeModelServer, Turn


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def otel() -> Iterator[Otel]:
    yield from install()


@pytest.mark.parametrize("path", ["/agents/react/runs", "/agents/react/runs/stream"])
async def test_agent_spans_join_the_callers_trace(otel: Otel, path: str) -> None:
    caller = otel.tracer_provider.get_tracer("web-backend")
    with FakeModelServer([Turn(reasoning="r", content="Hello.")], shape="deepseek") as model:
        async with backend_for(model, "deepseek") as backend:
            app = create_app({"react": Agent(backend)})
            async with serving(app) as base, httpx.AsyncClient(base_url=base) as client:
                with caller.start_as_current_span("POST /ask") as parent:
                    headers: dict[str, str] = {}
                    propagate.inject(headers)
                    response = await client.post(path, json={"question": "Hi?"}, headers=headers)
                    assert response.status_code == 200 and "Hello." in response.text
                # without a traceparent the run starts its own trace
                await client.post("/agents/react/runs", json={"question": "Again?"})
    runs = otel.by_operation("invoke_agent")
    assert len(runs) == 2
    joined, alone = sorted(runs, key=lambda s: s.parent is None)
    assert joined.parent is not None and joined.parent.span_id == parent.get_span_context().span_id
    assert joined.context.trace_id == parent.get_span_context().trace_id
    assert alone.parent is None and alone.context.trace_id != joined.context.trace_id
    [chat] = [s for s in otel.by_operation("chat") if s.context.trace_id == joined.context.trace_id]
    assert attr(chat, "ponder.step") == 1
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing leaked into this context
