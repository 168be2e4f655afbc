"""Fixtures for the MCP client tests: the SDK and the npm reference servers."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from capabilities import missing
from mcp_helpers import NODE_DIR

REFERENCE_PACKAGES = ("server-everything", "server-filesystem")


if importlib.util.find_spec("mcp") is None and os.environ.get("CI"):
    raise pytest.UsageError("CI is set but the mcp SDK is not installed: pip install 'ponder[mcp]'")


@pytest.fixture(scope="session")
def reference_servers() -> Iterator[Path]:
    """The folder of the npm reference servers' executables (installed here if absent).

    ``.ci/run`` installs them from ``.ci/node/package.json`` (pinned); locally
    they are installed by name on first use and skipped if that cannot be done.
    """
    bin_dir = NODE_DIR / "node_modules" / ".bin"
    wanted = [bin_dir / f"mcp-{name}" for name in REFERENCE_PACKAGES]
    if not all(path.exists() for path in wanted):
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            missing("node and npm", "install Node.js 20+")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not all(path.exists() for path in wanted):
            missing("the npm reference MCP servers", f"npm ci --prefix {NODE_DIR} failed")
    yield bin_dir
