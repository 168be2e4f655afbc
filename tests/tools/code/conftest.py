"""Fixtures for the code-runner tests: a small-limit local sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ponder.tools.code import LocalSandbox, SandboxLimits

SMALL = SandboxLimits(cpu_s=10, memory_mb=512, max_processes=32, wall_timeout_s=10)


@pytest.fixture
async def box() -> AsyncIterator[LocalSandbox]:
    sandbox = LocalSandbox(limits=SMALL)
    try:
        yield sandbox
    finally:
        await sandbox.aclose()
