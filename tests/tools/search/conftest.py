"""Fixtures for the search tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from search_loopback import LoopbackServer


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    server.start()
    yield server
    server.stop()
