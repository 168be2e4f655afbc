"""The killable worker pool: hard timeouts, failures, reuse, and the checker's use of them."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator

import pytest

from ponder.tools.proof import check_proof
from ponder.tools.proof.worker import JobFailed, JobTimeout, ProcessPool


@pytest.fixture
def pool() -> Iterator[ProcessPool]:
    pool = ProcessPool(max_workers=1)
    yield pool
    pool.close()


async def test_result_comes_back_and_the_child_is_reused(pool: ProcessPool) -> None:
    assert await pool.run(math.sqrt, 16, timeout_s=5) == 4.0
    assert await pool.run(math.sqrt, 25, timeout_s=5) == 5.0


async def test_hung_job_is_killed_at_the_timeout(pool: ProcessPool) -> None:
    start = time.monotonic()
    with pytest.raises(JobTimeout):
        await pool.run(time.sleep, 60, timeout_s=0.5)
    assert time.monotonic() - start < 3
    assert await pool.run(math.sqrt, 4, timeout_s=5) == 2.0


async def test_exception_in_job_is_reported(pool: ProcessPool) -> None:
    with pytest.raises(JobFailed, match="ValueError"):
        await pool.run(math.sqrt, -1, timeout_s=5)


async def test_dead_child_is_reported_and_replaced(pool: ProcessPool) -> None:
    with pytest.raises(JobFailed, match="died"):
        await pool.run(os._exit, 3, timeout_s=5)
    assert await pool.run(math.sqrt, 9, timeout_s=5) == 3.0


async def test_slow_simplification_ends_unknown_within_the_limit(pool: ProcessPool) -> None:
    claim = {
        "kind": "identity",
        "lhs": "(x + y + 1)**120",
        "rhs": "(x**2 + 2*x*y + y**2 + 2*x + 2*y + 1)**60",
    }
    start = time.monotonic()
    verdict = await check_proof(claim, timeout_s=0.3, pool=pool)
    assert time.monotonic() - start < 3
    assert verdict.status == "unknown"
    assert "time limit" in verdict.explanation or "did not finish" in verdict.explanation
