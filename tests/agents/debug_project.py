"""What the debugger's tests share: the failing example project, its patches, the fake model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ponder.backends import OpenAICompatibleBackend
from ponder.testing import FakeModelServer, Turn

__all__ = [
    "BUGGY",
    "CANARY",
    "FIXED_LINE",
    "GOOD_PATCH",
    "STALE_PATCH",
    "WRONG_PATCH",
    "backend_for",
    "copy_project",
    "fix",
    "snapshot",
]

CANARY = "CANARY-debugger-reasoning-7f3e"
"""The fake model's reasoning: it must never reach a report, a turn or a checkpoint."""

BUGGY = Path(__file__).resolve().parents[2] / "examples" / "data" / "buggy_project"
"""``stats.moving_average`` stops one window early; ``python -m unittest`` fails twice."""

GOOD_PATCH = (
    "--- a/stats.py\n+++ b/stats.py\n@@ -9,2 +9,2 @@\n"
    "-    for start in range(len(values) - window):\n"
    "+    for start in range(len(values) - window + 1):\n"
    "         chunk = values[start : start + window]\n"
)
FIXED_LINE = "    for start in range(len(values) - window + 1):\n"
STALE_PATCH = (
    "--- a/stats.py\n+++ b/stats.py\n@@ -9 +9 @@\n"
    "-    for i in range(n):\n+    for i in range(n + 1):\n"
)
WRONG_PATCH = (
    "--- a/stats.py\n+++ b/stats.py\n@@ -11 +11 @@\n"
    "-        averages.append(sum(chunk) / window)\n"
    "+        averages.append(sum(chunk) / len(chunk))\n"
)


def fix(patch: str, cause: str = "range() stops one window early") -> Turn:
    """The model's answer proposing ``patch``, thinking :data:`CANARY` first."""
    return Turn(reasoning=CANARY, content=json.dumps({"root_cause": cause, "patch": patch}))


def backend_for(server: FakeModelServer) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(
        base_url=server.base_url, model="fake-r1", api_key="sk-test", profile="deepseek"
    )


def copy_project(folder: Path) -> Path:
    """A fresh copy of the failing project under ``folder``."""
    copy = folder / "user_project"
    shutil.copytree(BUGGY, copy)
    return copy


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
