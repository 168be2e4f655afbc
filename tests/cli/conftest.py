"""What the CLI tests share: a clean environment for the ``ponder`` command in a subprocess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment without PONDER_*/DEEPSEEK_* settings; home and memory in tmp_path."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PONDER_", "DEEPSEEK_"))}
    clean.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PONDER_MEMORY_URL=f"sqlite:///{tmp_path / 'memory.db'}",
    )
    return clean
