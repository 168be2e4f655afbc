"""Which runner ``run_python`` gets: the local box, E2B, unsandboxed by choice, or none.

The machine is changed the real way: PATH without ``bwrap``, a ``bwrap`` that
cannot create namespaces, a ``sandbox-exec`` on PATH; code then runs in real
processes. The macOS runner cannot run here: its selection and its profile
are checked, not its enforcement.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from capabilities import path_without

from ponder.tools.code import LocalSandbox, SandboxLimits, plan_runner, seatbelt_profile
from ponder.tools.code import choice as choice_module
from ponder.tools.code.seatbelt import SeatbeltSandbox

SMALL = SandboxLimits(cpu_s=10, memory_mb=512, max_processes=32, wall_timeout_s=10)


@pytest.fixture
def no_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = path_without("bwrap", tmp_path / "shims")
    monkeypatch.setenv("PATH", path)
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    return path


def _script(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_text(f"#!/bin/sh\n{body}\n")
    target.chmod(target.stat().st_mode | stat.S_IXUSR)


@pytest.mark.sandbox
def test_with_bubblewrap_the_box_is_chosen_silently() -> None:
    plan = plan_runner()
    assert (plan.kind, plan.note) == ("bwrap", None)


def test_without_bubblewrap_run_python_is_off_and_the_note_says_why(no_bwrap: str) -> None:
    plan = plan_runner()
    assert plan.kind is None and plan.make() is None
    assert plan.note is not None and "\n" not in plan.note
    assert "bubblewrap (bwrap) is not installed" in plan.note
    assert "run_python is off" in plan.note
    assert "--allow-unsandboxed" in plan.note and "E2B_API_KEY" in plan.note


async def test_allow_unsandboxed_runs_code_in_a_real_process_without_bwrap(no_bwrap: str) -> None:
    plan = plan_runner(allow_unsandboxed=True)
    assert plan.kind == "unsandboxed"
    assert plan.note is not None and "WITHOUT isolation" in plan.note
    runner = plan.make(SMALL)
    assert isinstance(runner, LocalSandbox) and not runner.sandboxed
    try:
        result = await runner.run("import os\nos.getpid() != 0, 6 * 7")
    finally:
        await runner.aclose()
    assert result.error is None and result.value == "(True, 42)"


def test_an_e2b_key_picks_e2b_when_there_is_no_box(
    no_bwrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("E2B_API_KEY", "e2b_test_key")
    plan = plan_runner(allow_unsandboxed=True)
    assert plan.kind == "e2b"
    assert plan.note is not None and "E2B's cloud sandbox" in plan.note


def test_a_bwrap_that_cannot_make_namespaces_counts_as_none(
    tmp_path: Path, no_bwrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(
        tmp_path / "broken",
        "bwrap",
        "echo 'bwrap: No permissions to creating new namespace' >&2; exit 1",
    )
    _script(tmp_path / "broken", "setpriv", "exit 0")
    monkeypatch.setenv("PATH", f"{tmp_path / 'broken'}{os.pathsep}{no_bwrap}")
    plan = plan_runner()
    assert plan.kind is None
    assert plan.note is not None and "cannot create its namespaces" in plan.note
    assert "No permissions to creating new namespace" in plan.note


def test_on_macos_sandbox_exec_is_chosen_when_on_path(
    tmp_path: Path, no_bwrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert plan_runner().kind is None
    assert "sandbox-exec is not on PATH" in (choice_module.local_sandbox_problem() or "")
    _script(tmp_path / "mac", "sandbox-exec", "exit 0")
    monkeypatch.setenv("PATH", f"{tmp_path / 'mac'}{os.pathsep}{no_bwrap}")
    plan = plan_runner()
    assert (plan.kind, plan.note) == ("seatbelt", None)
    assert isinstance(plan.make(SMALL), SeatbeltSandbox)


def test_the_seatbelt_runner_refuses_to_start_off_macos() -> None:
    if sys.platform == "darwin":
        pytest.skip(reason="checks the refusal on other systems")
    with pytest.raises(Exception, match="sandbox-exec"):
        SeatbeltSandbox(limits=SMALL)


def test_the_seatbelt_profile_denies_by_default_and_opens_only_the_work_folder(
    tmp_path: Path,
) -> None:
    work = tmp_path / 'odd "name" \\ here'
    work.mkdir()
    profile = seatbelt_profile(work, ["/opt/python3.12", str(tmp_path / "site")])
    lines = profile.splitlines()
    assert lines[:2] == ["(version 1)", "(deny default)"]
    assert "network" not in profile  # nothing re-allows sockets: default deny holds
    writable = [line for line in lines if "file-write*" in line]
    quoted = '"' + str(work.resolve()).replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert f"(subpath {quoted})" in writable[-1]
    assert all(str(tmp_path / "site") not in line for line in writable)
    readable = next(line for line in lines if line.startswith("(allow file-read* (subpath"))
    assert '(subpath "/opt/python3.12")' in readable
    assert '(subpath "/usr")' in readable
    assert str(Path.home()) not in profile.replace(str(work.resolve()), "")
    assert profile.count("(") == profile.count(")")
