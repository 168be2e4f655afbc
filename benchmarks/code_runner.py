"""Local code-runner latency: cold start, warm call, and a plain `python -c pass` for scale.

Run: .venv/bin/python benchmarks/code_runner.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from ponder.tools.code import LocalSandbox


async def _plain_python() -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await proc.wait()
    return time.perf_counter() - started


async def _cold_start() -> float:
    sandbox = LocalSandbox()
    started = time.perf_counter()
    await sandbox.run("None")
    elapsed = time.perf_counter() - started
    await sandbox.aclose()
    return elapsed


async def _warm_calls(n: int) -> list[float]:
    async with LocalSandbox() as sandbox:
        await sandbox.run("x = 0")
        times = []
        for _ in range(n):
            started = time.perf_counter()
            await sandbox.run("x += 1\nx")
            times.append(time.perf_counter() - started)
        return times


async def main() -> None:
    plain = [await _plain_python() for _ in range(10)]
    cold = [await _cold_start() for _ in range(10)]
    warm = await _warm_calls(200)
    print(f"{'measure':<28}{'median ms':>10}{'p90 ms':>10}")
    for name, values in (
        ("python -c pass (subprocess)", plain),
        ("sandbox cold start + call", cold),
        ("sandbox warm call", warm),
    ):
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:<28}{statistics.median(values) * 1000:>10.2f}{p90 * 1000:>10.2f}")


if __name__ == "__main__":
    asyncio.run(main())
