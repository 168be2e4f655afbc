"""A cancelled or timed-out caller of the proof pool stops its job (issue 11)."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.tools.proof import check_proof
from ponder.tools.proof.worker import ProcessPool

pytestmark = [pytest.mark.slow]

BOUND_S = 15.0  # a hang guard, not a speed claim


@pytest.fixture
def pool() -> Iterator[ProcessPool]:
    _OTHERS.clear()
    _OTHERS.update(_children())
    pool = ProcessPool(max_workers=2)
    yield pool
    pool.close()


_OTHERS: set[int] = set()  # children of other pools (the default pool stays warm)


def _children() -> list[int]:
    """Our live proof-worker child processes, those of other pools left out."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ours = int(fields[1]) == os.getpid() and b"ponder.tools.proof.worker" in cmdline
        if ours and fields[0] != "Z" and int(entry.name) not in _OTHERS:
            found.append(int(entry.name))
    return found


async def _until_no_jobs(pool: ProcessPool, deadline: float) -> list[int]:
    """Children left running a job: idle ones are stopped first (``close`` keeps running jobs)."""
    pool.close()
    while (left := _children()) and time.monotonic() < deadline:
        pool.close()
        await asyncio.sleep(0.05)
    return left


async def test_cancelled_callers_stop_running_and_queued_jobs(pool: ProcessPool) -> None:
    jobs = [asyncio.ensure_future(pool.run(time.sleep, 120, timeout_s=120)) for _ in range(8)]
    deadline = time.monotonic() + BOUND_S
    while len(_children()) < 2 and time.monotonic() < deadline:  # noqa: ASYNC110 - polls /proc
        await asyncio.sleep(0.05)
    assert len(_children()) == 2  # two run, six wait for a slot
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)
    assert await _until_no_jobs(pool, time.monotonic() + BOUND_S) == []
    await asyncio.sleep(0.3)  # a queued job that (wrongly) started would be seen now
    assert await _until_no_jobs(pool, time.monotonic()) == []
    # the slots are free again: an easy job gets one at once
    assert await asyncio.wait_for(pool.run(math.sqrt, 49, timeout_s=30), BOUND_S) == 7.0


async def test_a_caller_timing_out_kills_its_check(pool: ProcessPool) -> None:
    claim = {"kind": "identity", "lhs": "(x + y + 1)**150", "rhs": "(x + y + 1)**150 + 0*x"}
    hard = {  # true, and slow to simplify: minutes
        "kind": "identity",
        "lhs": "(x + y + 1)**120",
        "rhs": "(x**2 + 2*x*y + y**2 + 2*x + 2*y + 1)**60",
    }
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(check_proof(hard, timeout_s=120, pool=pool), 1.0)
    assert await _until_no_jobs(pool, time.monotonic() + BOUND_S) == []
    verdict = await asyncio.wait_for(check_proof(claim, timeout_s=60, pool=pool), BOUND_S * 4)
    assert verdict.status == "proved"
