"""Shared by the examples: a backend from the environment, or a scripted fake model.

``--fake`` on an example's command line (or ``PONDER_EXAMPLE_FAKE=1``) runs it
against :class:`ponder.testing.FakeModelServer`, a loopback server that speaks
DeepSeek's real wire, so tests can run every example offline.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ponder.backends import ChatBackend, make_backend
from ponder.testing import FakeModelServer, Script

__all__ = ["backend", "wants_fake"]


def wants_fake() -> bool:
    """True when the example should talk to the scripted fake model."""
    return "--fake" in sys.argv[1:] or os.environ.get("PONDER_EXAMPLE_FAKE") == "1"


@asynccontextmanager
async def backend(script: Script) -> AsyncIterator[ChatBackend]:
    """The fake model playing ``script`` when asked for, else ``make_backend()`` (env)."""
    if not wants_fake():
        real = make_backend()
        try:
            yield real
        finally:
            await real.aclose()
        return
    with FakeModelServer(script, shape="deepseek") as server:
        fake = make_backend("deepseek", base_url=server.base_url, model="fake-r1", api_key="fake")
        try:
            yield fake
        finally:
            await fake.aclose()
