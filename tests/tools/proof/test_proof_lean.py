"""Lean 4 handling, tested with a stand-in executable.

Lean cannot be installed on these machines (no network for elan; no Debian
package), so each test writes a small Python script that behaves like ``lean``:
it prints Lean-shaped messages, sleeps, or exits non-zero. What is tested is
the process handling (no shell, timeout kills the process group), the error
parsing and the verdicts — not Lean itself.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from ponder.tools.proof import LEAN_ENV, check_proof
from ponder.tools.proof.lean import parse_messages


def stand_in(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-lean"
    script.write_text(f"#!{sys.executable}\nimport sys, time\npath = sys.argv[1]\n{body}\n")
    script.chmod(0o755)
    return str(script)


SOURCE = "theorem two : 1 + 1 = 2 := by\n  rfl\n"


async def test_clean_run_is_proved_and_sees_the_source(tmp_path: Path) -> None:
    binary = stand_in(tmp_path, "assert open(path).read().startswith('theorem two')")
    verdict = await check_proof({"kind": "lean", "source": SOURCE}, lean_path=binary)
    assert verdict.status == "proved"


async def test_errors_are_parsed_with_position_and_source_line(tmp_path: Path) -> None:
    binary = stand_in(
        tmp_path,
        "print(f'{path}:2:2: error: unsolved goals\\n⊢ 1 + 1 = 3')\n"
        "print(f'{path}:1:0: warning: unused variable `h`')\nsys.exit(1)",
    )
    verdict = await check_proof({"kind": "lean", "source": SOURCE}, lean_path=binary)
    assert verdict.status == "unknown"
    assert "line 2, column 2 (`rfl`): unsolved goals\n⊢ 1 + 1 = 3" in verdict.explanation
    assert "unused variable" not in verdict.explanation
    assert "exit code 1" in verdict.explanation


async def test_sorry_is_not_a_proof(tmp_path: Path) -> None:
    binary = stand_in(tmp_path, "print(f\"{path}:1:8: warning: declaration uses 'sorry'\")")
    source = "theorem t : 2 + 2 = 5 := by\n  sorry\n"
    verdict = await check_proof({"kind": "lean", "source": source}, lean_path=binary)
    assert verdict.status == "unknown"
    assert "uses sorry" in verdict.explanation


async def test_axioms_are_flagged(tmp_path: Path) -> None:
    binary = stand_in(tmp_path, "pass")
    source = "axiom cheat : 2 + 2 = 5\ntheorem t : 2 + 2 = 5 := cheat\n"
    verdict = await check_proof({"kind": "lean", "source": source}, lean_path=binary)
    assert verdict.status == "unknown"
    assert "cheat" in verdict.explanation


async def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    binary = stand_in(
        tmp_path,
        "import subprocess\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\ntime.sleep(60)",
    )
    start = time.monotonic()
    verdict = await check_proof({"kind": "lean", "source": SOURCE}, lean_path=binary, timeout_s=1)
    assert time.monotonic() - start < 5
    assert verdict.status == "unknown"
    assert "did not finish within 1 s" in verdict.explanation
    pid = int(pid_file.read_text())
    for _ in range(100):
        if not _alive(pid):
            break
        await asyncio.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


async def test_missing_binary_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(LEAN_ENV, raising=False)
    verdict = await check_proof({"kind": "lean", "source": SOURCE})
    assert verdict.status == "unknown"
    assert "Lean is not installed here" in verdict.explanation
    assert "elan" in verdict.explanation


async def test_env_variable_selects_the_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEAN_ENV, stand_in(tmp_path, "pass"))
    verdict = await check_proof({"kind": "lean", "source": SOURCE})
    assert verdict.status == "proved"


def test_parse_messages_keeps_continuation_lines_and_severities() -> None:
    output = (
        "/tmp/x/Claim.lean:3:4: error: type mismatch\n  h\nhas type\n  P\n"
        "/tmp/x/Claim.lean:7:0: warning(linter.unusedVariables): unused variable `x`\n"
    )
    messages = parse_messages(output)
    assert [(m.line, m.column, m.severity) for m in messages] == [
        (3, 4, "error"),
        (7, 0, "warning"),
    ]
    assert messages[0].text == "type mismatch\n  h\nhas type\n  P"
