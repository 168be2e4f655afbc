"""Hundreds of concurrent streamed runs against a fake model with realistic latency."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx
import pytest
from server_harness import fake_agent, last_user_text, serving, sse_events

from ponder.memory import MemoryStore
from ponder.server import create_app
from ponder.testing import Turn

RUNS = 300


def echo(body: dict[str, Any]) -> Turn:
    question = last_user_text(body)
    return Turn(reasoning="r" * 40, content=f"answer to {question}", chunk_chars=8, delay_s=0.02)


@pytest.mark.slow
async def test_hundreds_of_concurrent_streamed_runs(memory: MemoryStore) -> None:
    async with (
        fake_agent(echo, memory) as (agent, _),
        serving(create_app({"a": agent}, memory=memory)) as url,
    ):
        limits = httpx.Limits(max_connections=RUNS)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

            async def one(i: int) -> tuple[float, str]:
                started = time.perf_counter()
                reply = await client.post(
                    "/agents/a/runs/stream", json={"question": f"q{i}", "thread_id": f"load-{i}"}
                )
                assert reply.status_code == 200
                frames = sse_events(reply.text)
                assert frames[-1]["event"] == "final", frames[-1]
                return time.perf_counter() - started, reply.text

            began = time.perf_counter()
            results = await asyncio.gather(*(one(i) for i in range(RUNS)))
            elapsed = time.perf_counter() - began
    latencies = sorted(latency for latency, _ in results)
    p50 = statistics.median(latencies)
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    print(
        f"\n{RUNS} concurrent streamed runs in {elapsed:.2f}s: {RUNS / elapsed:.1f} runs/s, "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    for i in range(RUNS):
        turns = await memory.turns(f"load-{i}")
        assert [(t.question, t.answer) for t in turns] == [(f"q{i}", f"answer to q{i}")]
