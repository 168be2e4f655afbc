"""Streaming: time from the server sending reasoning to a ponder caller receiving it.

The fake model (in its own process) starts each reasoning text with
``t=<CLOCK_MONOTONIC ns>;``, stamped as the turn is made, just before the
response is written; the caller reads the same clock when the first
reasoning arrives. The stamp precedes the first byte by the server's own
formatting and write, so a raw httpx reader of the same stream is measured
too: its latency is that server share plus the transport, and ponder's
latency minus it is what ponder adds. Also reported: the parser throughput
from ``parser_throughput.py``.

    .venv-bench/bin/python benchmarks/streaming.py [--reps 500] [--mb 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
from _harness import BENCH_DIR, add, fake_model, p99_ms, table

API_KEY = "sk-bench-not-a-real-key"
QUESTION = "Think out loud, then answer."
FirstReasoning = Callable[[], Awaitable[str]]


def _stamp_age_ms(reasoning: str) -> float:
    received = time.monotonic_ns()
    if not reasoning.startswith("t="):
        raise RuntimeError(f"first reasoning piece carries no stamp: {reasoning[:40]!r}")
    sent = int(reasoning[2 : reasoning.index(";")])
    return (received - sent) / 1e6


async def _measure(base_url: str, reps: int) -> dict[str, list[float]]:
    from ponder.agents import Agent
    from ponder.backends import ChatRequest, OpenAICompatibleBackend, ReasoningDelta, UserMessage
    from ponder.graphs import ReasoningEvent

    client = httpx.AsyncClient(base_url=base_url, headers={"authorization": f"Bearer {API_KEY}"})
    backend = OpenAICompatibleBackend(
        base_url=base_url, model="fake-r1", api_key=API_KEY, profile="deepseek"
    )
    agent = Agent(backend, [add])
    request = ChatRequest(messages=[UserMessage(content=QUESTION)])

    async def raw() -> float:
        body = {"model": "fake-r1", "messages": [{"role": "user", "content": QUESTION}]}
        age = None
        async with client.stream("POST", "/chat/completions", json={**body, "stream": True}) as r:
            async for line in r.aiter_lines():
                if age is None and line.startswith("data: {"):
                    choices = json.loads(line[6:])["choices"]
                    if choices and choices[0]["delta"].get("reasoning_content"):
                        age = _stamp_age_ms(choices[0]["delta"]["reasoning_content"])
        assert age is not None
        return age

    async def backend_stream() -> float:
        age = None
        async for event in backend.stream(request):
            if age is None and isinstance(event, ReasoningDelta):
                age = _stamp_age_ms(event.text)
        assert age is not None
        return age

    async def agent_stream() -> float:
        age = None
        async for event in agent.astream(QUESTION):
            if age is None and isinstance(event, ReasoningEvent):
                age = _stamp_age_ms(event.text)
        assert age is not None
        return age

    runners: dict[str, Callable[[], Awaitable[float]]] = {
        "raw httpx reader (server + transport)": raw,
        "ponder backend.stream (ReasoningDelta)": backend_stream,
        "ponder Agent.astream (ReasoningEvent)": agent_stream,
    }
    ages: dict[str, list[float]] = {name: [] for name in runners}
    for warm_up in runners.values():
        await warm_up()
    for _ in range(reps):
        for name, run in runners.items():
            ages[name].append(await run())
    await client.aclose()
    await backend.aclose()
    return ages


def _parser_throughput(megabytes: float) -> str:
    script = BENCH_DIR / "parser_throughput.py"
    out = subprocess.run(
        [sys.executable, str(script), f"--mb={megabytes}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return out.stdout.strip() if out.returncode == 0 else f"failed: {out.stderr.strip()[-400:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=500, help="streams per reader")
    parser.add_argument("--mb", type=float, default=2.0, help="parser transcript size in MB")
    args = parser.parse_args()
    with fake_model(steps=0, chunk_chars=64, stamp=True) as base_url:
        ages = asyncio.run(_measure(base_url, args.reps))
    floor = statistics.median(ages["raw httpx reader (server + transport)"])
    rows = [
        (
            name,
            statistics.median(v),
            p99_ms([a / 1000 for a in v]),
            statistics.median(v) - floor,
        )
        for name, v in ages.items()
    ]
    print(
        "\n".join(
            [
                "## 3. Streaming",
                "",
                "### Server stamp to first reasoning piece in the caller's hands",
                "",
                f"{args.reps} streams per reader, round-robin, fake model in its own process, "
                "zero latency, 64-character chunks. The stamp is taken when the server makes "
                "the turn, before it formats and writes the first byte.",
                "",
                table(["reader", "median ms", "p99 ms", "median minus raw reader, ms"], rows),
                "",
                f"### Parser throughput (`parser_throughput.py --mb {args.mb:g}`)",
                "",
                "```",
                _parser_throughput(args.mb),
                "```",
            ]
        )
    )


if __name__ == "__main__":
    main()
