"""Concurrency: many ponder runs in one process against a model with 200 ms per call.

Each run is the step-overhead conversation with ``--steps`` tool steps, so a
run makes ``steps + 1`` calls and can finish no sooner than
``(steps + 1) * latency``. Ideal throughput is every run at once in that
time; the table gives achieved throughput as a fraction of it. Each level
runs in a fresh child process (one shared backend, as a web server holds
one), and peak memory per run is that child's peak RSS growth over its
warmed-up baseline divided by the number of runs. A raw httpx loop with
httpx's default pool (100 connections, as ponder's default backend has) is
the floor; the same loop on httpx2 (pydantic's httpx fork, whose pool does not
slow down with its size) shows what the HTTP client costs. The fake model
runs in its own process.

    .venv-bench/bin/python benchmarks/concurrency.py [--levels 1,10,100,1000] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _fake_server import ANSWER
from _harness import fake_model, peak_rss_mb, table
from step_overhead import Close, RunOnce, ponder_runner, raw_httpx_runner


def _raw_httpx2(base_url: str, steps: int) -> Awaitable[tuple[RunOnce, Close]]:
    import httpx2

    unbounded = httpx2.Limits(max_connections=None, max_keepalive_connections=None)
    return raw_httpx_runner(base_url, steps, unbounded, http=httpx2)


VARIANTS: dict[str, tuple[str, Callable[[str, int], Awaitable[tuple[RunOnce, Close]]]]] = {
    "raw": ("raw httpx loop, httpx's default pool (floor)", raw_httpx_runner),
    "raw-httpx2": ("raw loop on httpx2, unbounded pool", _raw_httpx2),
    "ponder": ("ponder Agent, default backend", ponder_runner),
}


async def _child(variant: str, base_url: str, steps: int, runs: int) -> dict[str, Any]:
    run_once, close = await VARIANTS[variant][1](base_url, steps)
    if await run_once() != ANSWER:  # warm-up: imports, connection, graph compile
        raise RuntimeError("warm-up run gave the wrong answer")
    baseline = peak_rss_mb()
    started = time.perf_counter()
    answers = await asyncio.gather(*(run_once() for _ in range(runs)), return_exceptions=True)
    wall = time.perf_counter() - started
    peak = peak_rss_mb()
    await close()
    failures = [a for a in answers if a != ANSWER]
    return {
        "wall_s": wall,
        "rss_per_run_kb": (peak - baseline) * 1024 / runs,
        "failed": len(failures),
        "first_failure": repr(failures[0])[:200] if failures else "",
    }


def _run_level(variant: str, base_url: str, steps: int, runs: int) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        f"--child={variant}",
        f"--base-url={base_url}",
        f"--steps={steps}",
        f"--runs={runs}",
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{variant} x{runs} failed: {out.stderr.strip()[-400:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,10,100,1000", help="concurrent runs per level")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before each reply")
    parser.add_argument("--steps", type=int, default=2, help="tool-calling steps per run")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="which runners")
    parser.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child, args.base_url, args.steps, args.runs))))
        return
    levels = [int(level) for level in args.levels.split(",")]
    ideal = (args.steps + 1) * args.latency
    rows = []
    with fake_model(steps=args.steps, first_byte_delay_s=args.latency, chunk_chars=64) as url:
        for variant in args.variants.split(","):
            label = VARIANTS[variant][0]
            for runs in levels:
                r = _run_level(variant, url, args.steps, runs)
                rows.append(
                    (
                        label,
                        runs,
                        r["wall_s"],
                        runs / r["wall_s"],
                        f"{ideal / r['wall_s'] * 100:.0f}%",
                        f"{r['rss_per_run_kb']:.0f}",
                        f"{r['failed']:.0f}" + (f" ({r['first_failure']})" if r["failed"] else ""),
                    )
                )
    print(
        "\n".join(
            [
                "## 2. Concurrency (one process, fake model with "
                f"{args.latency * 1000:.0f} ms before each reply)",
                "",
                f"Each run: {args.steps} tool steps + 1 answer = {args.steps + 1} streamed calls, "
                f"so a run takes at least {ideal:.2f} s and ideal throughput is N / {ideal:.2f} s. "
                "One timed batch per level, each level in a fresh process after one warm-up run.",
                "",
                table(
                    [
                        "runner",
                        "concurrent runs",
                        "wall s",
                        "runs/s",
                        "of ideal",
                        "peak RSS KiB/run",
                        "failed",
                    ],
                    rows,
                ),
            ]
        )
    )


if __name__ == "__main__":
    main()
