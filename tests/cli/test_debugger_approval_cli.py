"""The debugger's apply step on the command line: y/n on a terminal, exit 7 and resume off one."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from ponder.testing import FakeModelServer, Turn

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

BUGGY = Path(__file__).resolve().parents[2] / "examples" / "data" / "buggy_project"
PATCH = (
    "--- a/stats.py\n+++ b/stats.py\n@@ -9,2 +9,2 @@\n"
    "-    for start in range(len(values) - window):\n"
    "+    for start in range(len(values) - window + 1):\n"
    "         chunk = values[start : start + window]\n"
)
FIX = Turn(content=json.dumps({"root_cause": "range() stops one window early", "patch": PATCH}))
COMMAND = "python -m unittest"
APPROVED_APPLY = ("--apply", "--approve", "apply_patch")


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return env | {"PONDER_MODEL": "r1", "NO_COLOR": "1"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "user_project"
    shutil.copytree(BUGGY, copy)
    return copy


def debugger_options(project: Path) -> list[str]:
    return ["--agent", "debugger", "--project", str(project), "--command", COMMAND]


def ponder(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ponder", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_off_a_terminal_it_pauses_and_runs_resume_applies_it_once(
    env: dict[str, str], project: Path
) -> None:
    original = (project / "stats.py").read_text()
    debugger = debugger_options(project)
    with FakeModelServer([FIX], shape="vllm") as server:
        env["PONDER_BASE_URL"] = server.base_url
        refused = ponder("run", *debugger, "--approve", "apply_patch", "", env=env)
        assert refused.returncode == 2 and "needs --apply" in refused.stderr
        paused = ponder("run", *debugger, *APPROVED_APPLY, "", env=env)
        assert paused.returncode == 7, paused.stderr
        match = re.search(r"run: ([0-9a-f]{32})", paused.stderr)
        assert match, paused.stderr
        run_id = match.group(1)
        assert f"ponder runs resume {run_id} --agent debugger --project" in paused.stderr
        assert (project / "stats.py").read_text() == original
        waiting = ponder("runs", "resume", run_id, *debugger, env=env)
        assert waiting.returncode == 7 and "--approve-all" in waiting.stderr
        done = ponder("runs", "resume", run_id, *debugger, "--approve-all", env=env)
        assert done.returncode == 0, done.stderr
        assert "Applied to the project: stats.py" in done.stdout
        gone = ponder("runs", "resume", run_id, *debugger, "--approve-all", env=env)
        assert gone.returncode == 2 and gone.stderr.count("\n") == 1  # one clear line
        assert len(server.requests) == 1
    fixed = (project / "stats.py").read_text()
    assert fixed != original and fixed.count("range(len(values) - window + 1)") == 1


def test_the_terminal_shows_the_diff_asks_yes_or_no_and_refuses_an_edit(
    env: dict[str, str], project: Path
) -> None:
    original = (project / "stats.py").read_text()
    with FakeModelServer([FIX], shape="vllm") as server:
        env["PONDER_BASE_URL"] = server.base_url
        child = pexpect.spawn(
            sys.executable,
            ["-m", "ponder", "run", *debugger_options(project), *APPROVED_APPLY, ""],
            env=env,
            encoding="utf-8",
            timeout=90,
        )
        child.expect("The model says: Root cause: range\\(\\) stops one window early")
        child.expect('Tool call: apply_patch\\({"files": \\["stats.py"\\], "patch": "<below>"}\\)')
        child.expect("\\+    for start in range\\(len\\(values\\) - window \\+ 1\\):")
        child.expect(r"Run it\? \[y\]es / \[n\]o: ")
        child.sendline("e")
        child.expect("the apply_patch call cannot be edited: answer y or n")
        child.expect(r"Run it\? \[y\]es / \[n\]o: ")
        child.sendline("n")
        child.expect("Message")
        child.sendline("after the release")
        child.expect(r"Not applied to the project: rejected \(after the release\)")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
    assert (project / "stats.py").read_text() == original
