"""``ponder run --trace FILE`` writes a run's spans as JSON lines; ``ponder trace FILE`` shows them.

Real subprocesses against the loopback fake model, as a user runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.testing import FakeModelServer, ToolCallSpec, Turn

CANARY = "CANARY-trace-file-91c2"
CLAIM = {"claim": {"kind": "identity", "lhs": "(a+b)**2", "rhs": "a**2 + 2*a*b + b**2"}}


def ponder(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ponder", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PONDER_", "OTEL_"))}
    clean.update(
        HOME=str(tmp_path / "home"),
        PONDER_MEMORY_URL=f"sqlite:///{tmp_path / 'memory.db'}",
        COLUMNS="200",
    )
    return clean


@pytest.mark.slow
def test_run_writes_a_trace_that_ponder_trace_prints(env: dict[str, str], tmp_path: Path) -> None:
    script = [
        Turn(reasoning=f"{CANARY} check", tool_calls=[ToolCallSpec("check_proof", CLAIM)]),
        Turn(reasoning=f"{CANARY} proved", content="Yes, it is an identity."),
    ]
    trace_file = tmp_path / "run.jsonl"
    with FakeModelServer(script, shape="vllm") as server:
        env.update(PONDER_BASE_URL=server.base_url, PONDER_MODEL="r1")
        done = ponder("run", "--trace", str(trace_file), "Is (a+b)^2 = a^2+2ab+b^2?", env=env)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in trace_file.read_text().splitlines()]
    names = sorted(r["name"] for r in records)
    assert names == ["chat r1", "chat r1", "execute_tool check_proof", "invoke_agent Agent"]
    [run] = [r for r in records if r["parent_id"] is None]
    assert all(r["trace_id"] == run["trace_id"] for r in records)
    assert run["attributes"]["ponder.outcome"] == "answered"
    [tool] = [r for r in records if r["name"].startswith("execute_tool")]
    assert json.loads(tool["attributes"]["gen_ai.tool.call.arguments"]) == CLAIM  # content kept
    assert CANARY not in trace_file.read_text()  # reasoning never

    shown = ponder("trace", str(trace_file), env=env)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "invoke_agent Agent" in out and "step 1 model" in out and "step 2 model" in out
    assert "step 1 tool" in out and "check_proof(" in out and "✓ ok" in out
    in_tokens = [
        r["attributes"]["gen_ai.usage.input_tokens"] for r in records if "chat" in r["name"]
    ]
    assert all(f"in {n}" in out for n in in_tokens)
    assert "answered · 2 steps · 1 tool calls" in out
    assert CANARY not in out


def test_trace_of_a_bad_file_is_one_clean_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    for path in (bad, tmp_path / "missing.jsonl"):
        done = ponder("trace", str(path), env=env)
        assert done.returncode == 2
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
