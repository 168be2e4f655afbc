"""One command in a fresh box: the verdict is the host's waitpid, the seed stays untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.tools.code import SandboxLimits, run_command

pytestmark = [pytest.mark.sandbox]

LIMITS = SandboxLimits(cpu_s=10, memory_mb=512, max_processes=32)


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    folder = tmp_path / "seed"
    folder.mkdir()
    (folder / "main.py").write_text(
        "import os, sys, time\n"
        "open('main.py', 'w').write('changed')\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    for _ in range(100):\n"
        "        print('Ran 3 tests\\n\\nOK', flush=True)\n"
        "        time.sleep(0.01)\n"
        "    os._exit(0)\n"
        "print('FAILED (failures=2)', flush=True)\n"
        "sys.exit(int(sys.argv[1]))\n"
    )
    return folder


async def test_the_exit_status_is_the_commands_own(seed: Path) -> None:
    before = (seed / "main.py").read_text()
    failed = await run_command(["python", "main.py", "3"], seed=seed, limits=LIMITS)
    assert failed.exit_code == 3 and not failed.timed_out
    assert "FAILED (failures=2)" in failed.output
    passed = await run_command(["python", "main.py", "0"], seed=seed, limits=LIMITS)
    assert passed.exit_code == 0
    assert (seed / "main.py").read_text() == before  # the box wrote its own copy only


async def test_a_command_past_its_time_is_killed(seed: Path) -> None:
    result = await run_command(
        ["python", "-c", "import time; print('started', flush=True); time.sleep(600)"],
        seed=seed,
        limits=LIMITS,
        timeout_s=1,
    )
    assert result.timed_out and result.exit_code is None
    assert result.output.startswith("started") and "killed after 1 s" in result.output


async def test_a_missing_program_is_a_failed_command(seed: Path) -> None:
    result = await run_command(["no-such-program"], seed=seed, limits=LIMITS)
    assert result.exit_code == 127 and "cannot run 'no-such-program'" in result.output
