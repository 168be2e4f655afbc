"""The ``ponder`` command's package: cheap start, names in step with the registries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ponder import __version__
from ponder.agents.registry import AGENT_NAMES
from ponder.backends.factory import PROVIDER_NAMES
from ponder.cli import _common


def test_parser_names_mirror_the_registries() -> None:
    assert _common.PROVIDER_NAMES == PROVIDER_NAMES
    assert _common.AGENT_NAMES == AGENT_NAMES


def _ponder(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ponder", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _imported(importtime_log: str) -> set[str]:
    modules = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return modules


def test_version() -> None:
    done = _ponder("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"ponder {__version__}"


@pytest.mark.parametrize(
    ("args", "code"),
    [(("--help",), 0), (("run", "--help"), 0), (("run",), 2), (("nonsense",), 2), ((), 2)],
)
def test_help_and_usage_errors_import_nothing_heavy(args: tuple[str, ...], code: int) -> None:
    done = _ponder(*args)
    assert done.returncode == code
    heavy = {"langgraph", "langchain_core", "langsmith", "httpx", "sqlalchemy", "rich", "sympy"}
    assert _imported(done.stderr) & heavy == set()
