"""The math examples run end to end as subprocesses against the scripted fake model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(*args: str) -> str:
    env = {**os.environ, "PONDER_EXAMPLE_FAKE": "1"}
    for key in ("PONDER_BASE_URL", "PONDER_MODEL", "PONDER_API_KEY", "PONDER_PROVIDER"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, *args],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_math_tutor_solve_refutes_revises_and_proves() -> None:
    out = run_example("math_tutor.py", "--fake")
    assert "solution set: REFUTED. x = 4 is not a solution" in out
    assert "Counterexample: x = 4" in out
    assert "Revisions: 1" in out
    assert "  solution set: proved" in out and "  derivation: proved" in out
    assert "Verified: True" in out
    assert out.rstrip().endswith("Final answer: x = 2 or x = 3.")


def test_math_tutor_hints_never_show_the_answer_early() -> None:
    out = run_example("math_tutor.py", "--fake", "--mode", "hints")
    assert "Final answer" not in out
    assert "Hint rewrites: 1, masked: False" in out
    hints = [line for line in out.splitlines() if line.startswith("Hint ") and ":" in line[:7]]
    assert len(hints) == 3
    assert all("x = 2" not in hint and "x = 3" not in hint for hint in hints[:-1])
    assert "x = 2 or x = 3" in hints[-1]


@pytest.mark.parametrize("flag", ["--fake", None])
def test_check_my_work_flags_the_first_wrong_step(flag: str | None) -> None:
    out = run_example("check_my_work.py", *([flag] if flag else []))
    assert "step 2 (2*x = 10): refuted" in out
    assert "step 3 (x = 5): proved" in out
    assert "First wrong step: 2" in out
    assert "Explanation: In step 2" in out
