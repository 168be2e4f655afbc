"""examples/debug_failing_test.py runs end to end against the scripted fake model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.sandbox
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
def test_debug_example_fixes_the_copy_and_leaves_the_project_alone() -> None:
    project = EXAMPLES / "data" / "buggy_project"
    before = _snapshot(project)
    env = {**os.environ, "PONDER_EXAMPLE_FAKE": "1"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "debug_failing_test.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=EXAMPLES.parent,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # the failure reproduced, the hypothesis checked in the sandbox, the patch passed there
    assert "[tool call] run_python" in out and "[1.5, 2.5]" in out
    assert "Before (failed, exit status 1)" in out and "FAILED (failures=2)" in out
    assert "-    for start in range(len(values) - window):" in out
    assert "After (passed)" in out and out.rstrip().endswith("OK")
    assert "Status: fixed (1 attempt(s))" in out
    assert _snapshot(project) == before
    assert "range(len(values) - window):" in (project / "stats.py").read_text()
