"""The benchmark scripts still run (tiny sizes; the numbers are not checked).

Alternatives that live only in the ``[bench]`` extra are reported as unable
to run, which the step-overhead script must say rather than crash.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

CASES = {
    "step_overhead.py": (["--reps", "2", "--warmup", "1"], "ponder Agent.astream"),
    "streaming.py": (["--reps", "5", "--mb", "0.05"], "ponder Agent.astream"),
    "concurrency.py": (["--levels", "1,2", "--latency", "0.01"], "ponder Agent"),
    "memory_store.py": (["--turns", "20", "--loads", "2"], "add_turn"),
    "parser_throughput.py": (["--mb", "0.05"], "ThinkSplitter"),
    "code_runner.py": ([], "sandbox warm call"),
    "cli_startup.py": (["--reps", "1"], "first request"),
    "durable_runs.py": (
        ["--steps", "1", "--reps", "1", "--workers", "1", "--runs", "2", "--clients", "1"],
        "Checkpoint cost per step",
    ),
    "mcp_latency.py": (["--calls", "3", "--warmup", "1"], "| MCP HTTP |"),
    "tracing_overhead.py": (["--reps", "1", "--warmup", "0", "--steps", "1"], "on, in-memory"),
}


NEEDS_SANDBOX = {"code_runner.py"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "script",
    [
        pytest.param(s, marks=pytest.mark.sandbox) if s in NEEDS_SANDBOX else s
        for s in sorted(CASES)
    ],
)
def test_benchmark_script_runs(script: str, tmp_path: Path) -> None:
    args, expected = CASES[script]
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert expected in done.stdout
