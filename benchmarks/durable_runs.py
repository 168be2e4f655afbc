"""Durable runs: the cost of a checkpoint per step, and ``ponder serve --workers N`` on PostgreSQL.

Part 1 runs one conversation (``--steps`` tool steps, then the answer) with
the Agent's durable runs (a redacting checkpoint after every step, in the
memory database) and with ``durable=False`` (same memory, same thread lease,
no checkpoints), on SQLite and, when ``PONDER_TEST_POSTGRES_URL`` is set, on
PostgreSQL; it reports ms per step and the ratio, against a fake model with
no latency (the worst case for the ratio) and with ``--latency``.

Part 2 (PostgreSQL only) starts ``ponder serve --workers N --memory PG`` for
each N in ``--workers``, sends ``--runs`` runs from ``--clients`` concurrent
clients on distinct threads against the fake with ``--latency`` per model
call, and reports runs/s and p50/p99 latency.

    python benchmarks/durable_runs.py [--steps 3] [--reps 20] [--workers 1,2,4] [--runs 64]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import httpx
from _fake_server import ANSWER
from _harness import add, fake_model, median_ms, p99_ms, table

from ponder.agents import Agent
from ponder.backends import OpenAICompatibleBackend
from ponder.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[1]


async def per_step_ms(
    base_url: str, memory_url: str, steps: int, reps: int, durability: Literal["sync", "async"]
) -> dict[bool, float]:
    """Median ms per model step, with and without checkpoints (runs alternate)."""
    memory = MemoryStore.from_url(memory_url)
    backend = OpenAICompatibleBackend(base_url=base_url, model="fake-r1", api_key="sk-bench")
    agents = {
        flag: Agent(backend, [add], memory=memory, durable=flag, durability=durability)
        for flag in (True, False)
    }
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for rep in range(reps + 1):
            for flag, agent in agents.items():
                start = time.perf_counter()
                result = await agent.arun("Add one five times.", thread_id=uuid.uuid4().hex)
                assert result.answer == ANSWER, result.outcome
                if rep:  # the first round warms connections and tables
                    times[flag].append((time.perf_counter() - start) / (steps + 1))
    finally:
        for agent in agents.values():
            await agent.aclose()
        await backend.aclose()
        await memory.aclose()
    return {flag: median_ms(values) for flag, values in times.items()}


def checkpoint_rows(args: argparse.Namespace) -> list[list[object]]:
    databases = {"SQLite": f"sqlite:///{tempfile.mkdtemp()}/bench.db"}
    if os.environ.get("PONDER_TEST_POSTGRES_URL"):
        databases["PostgreSQL"] = os.environ["PONDER_TEST_POSTGRES_URL"]
    rows: list[list[object]] = []
    for latency in (0.0, args.latency):
        with fake_model(steps=args.steps, first_byte_delay_s=latency) as url:
            for name, memory_url in databases.items():
                ms = asyncio.run(
                    per_step_ms(url, memory_url, args.steps, args.reps, args.durability)
                )
                extra = ms[True] - ms[False]
                rows.append(
                    [
                        name,
                        f"{latency * 1000:.0f} ms",
                        ms[False],
                        ms[True],
                        extra,
                        f"{100 * extra / ms[False]:.1f}%",
                    ]
                )
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load(base: str, runs: int, clients: int) -> tuple[float, list[float]]:
    """``runs`` runs from ``clients`` concurrent clients; (runs/s, latencies)."""
    latencies: list[float] = []
    queue = list(range(runs))

    async def client(http: httpx.AsyncClient) -> None:
        while queue:
            queue.pop()
            start = time.perf_counter()
            body = {"question": "Add one.", "thread_id": uuid.uuid4().hex}
            response = await http.post(f"{base}/agents/react/runs", json=body)
            response.raise_for_status()
            latencies.append(time.perf_counter() - start)

    async with httpx.AsyncClient(timeout=120) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return runs / elapsed, latencies


def serve_rows(args: argparse.Namespace) -> list[list[object]]:
    pg = os.environ.get("PONDER_TEST_POSTGRES_URL")
    if not pg:
        return []
    rows: list[list[object]] = []
    with fake_model(steps=1, first_byte_delay_s=args.latency) as model_url:
        for workers in [int(w) for w in args.workers.split(",")]:
            port = free_port()
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("PONDER_")},
                "PYTHONPATH": str(ROOT),
                "PONDER_BASE_URL": model_url,
                "PONDER_MODEL": "fake-r1",
            }
            command = [sys.executable, "-m", "ponder", "serve", "--port", str(port)]
            command += ["--workers", str(workers), "--memory", pg, "--agent", "react"]
            server = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            base = f"http://127.0.0.1:{port}"
            try:
                _wait(functools.partial(_healthy, base))
                asyncio.run(load(base, 2 * args.clients, args.clients))  # warm every worker
                rate, latencies = asyncio.run(load(base, args.runs, args.clients))
            finally:
                server.send_signal(signal.SIGINT)
                server.wait(timeout=60)
            rows.append([workers, args.clients, rate, median_ms(latencies), p99_ms(latencies)])
    return rows


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(condition: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("ponder serve did not come up")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per model call")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--runs", type=int, default=64)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--durability", choices=["sync", "async"], default="sync")
    args = parser.parse_args()
    print("## Durable runs\n")
    print(
        f"### Checkpoint cost per step ({args.steps} tool steps + answer, {args.reps} runs, "
        f"durability={args.durability})\n"
    )
    header = ["database", "model latency", "no checkpoints ms/step", "durable ms/step"]
    print(table([*header, "extra ms/step", "ratio"], checkpoint_rows(args)))
    rows = serve_rows(args)
    if rows:
        print(f"\n### ponder serve --workers N on PostgreSQL ({args.latency * 1000:.0f} ms/call)\n")
        header = ["workers", "clients", "runs/s", "p50 ms", "p99 ms"]
        print(table(header, rows))
    else:
        print("\n(set PONDER_TEST_POSTGRES_URL for the PostgreSQL rows and the workers table)")


if __name__ == "__main__":
    main()
