"""The local session behaves like a notebook: state, values, errors, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.tools.code import LocalSandbox, SandboxLimits, SandboxUnavailableError

pytestmark = [
    pytest.mark.sandbox,
]


def _read(path: Path) -> str:
    return path.read_text()


async def test_state_persists_between_calls(box: LocalSandbox) -> None:
    first = await box.run("import math\nradius = 2")
    assert first.ok and first.value is None and not first.state_lost
    second = await box.run("area = math.pi * radius**2\nprint(f'{area:.2f}')")
    assert second.stdout == "12.57\n"


async def test_last_expression_value_is_its_repr(box: LocalSandbox) -> None:
    assert (await box.run("x = [1, 'a']\nx")).value == "[1, 'a']"
    assert (await box.run("print('hi')")).value is None  # print() returns None
    assert (await box.run("if True:\n    y = 3\ny * 2")).value == "6"


async def test_exception_traceback_is_trimmed_to_user_code(box: LocalSandbox) -> None:
    await box.run("def inner():\n    return {}['missing']")
    result = await box.run("value = 1\ninner()")
    assert result.error is not None
    assert result.error.name == "KeyError" and result.error.message == "'missing'"
    tb = result.error.traceback
    assert 'File "<cell-2>", line 2' in tb and 'File "<cell-1>", line 2, in inner' in tb
    assert "return {}['missing']" in tb  # source lines are shown
    assert "_worker" not in tb and "exec(" not in tb
    assert (await box.run("value")).value == "1"  # lines before the error ran


async def test_syntax_error_and_system_exit_are_reported(box: LocalSandbox) -> None:
    bad = await box.run("def f(:\n    pass")
    assert bad.error is not None and bad.error.name == "SyntaxError"
    exiting = await box.run("import sys\nsys.exit(3)")
    assert exiting.error is not None and exiting.error.name == "SystemExit"
    assert not (await box.run("1")).state_lost


async def test_stderr_is_separate(box: LocalSandbox) -> None:
    result = await box.run("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert "[stdout]\nout" in result.to_text() and "[stderr]\nerr" in result.to_text()


async def test_files_in_the_work_folder_persist_within_the_session(box: LocalSandbox) -> None:
    await box.run("open('notes.txt', 'w').write('kept')\nopen('/tmp/scratch', 'w').write('t')")
    again = await box.run("import os\nprint(open('notes.txt').read(), os.getcwd())")
    assert again.stdout == "kept /home/user\n"
    assert box.workdir is None  # a tmpfs inside the box: nothing on the host to clean up


async def test_a_given_work_folder_is_shared_by_later_sessions(tmp_path: Path) -> None:
    first = LocalSandbox(workdir=tmp_path)
    try:
        made = await first.run("open('notes.txt', 'w').write('first')\nimport os\nos.getuid()")
    finally:
        await first.aclose()
    assert made.ok and _read(tmp_path / "notes.txt") == "first"
    second = LocalSandbox(workdir=tmp_path)
    try:
        changed = await second.run(
            "open('notes.txt', 'a').write(' second')\nimport os\nos.getuid()"
        )
    finally:
        await second.aclose()
    assert changed.ok, changed.to_text()
    assert _read(tmp_path / "notes.txt") == "first second"


async def test_installed_packages_are_importable(box: LocalSandbox) -> None:
    result = await box.run("import sympy\nsympy.factor(sympy.Symbol('x')**2 - 1)")
    assert result.value == "(x - 1)*(x + 1)"


async def test_unsandboxed_needs_consent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # hides bwrap
    with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
        LocalSandbox()
    sandbox = LocalSandbox(allow_unsandboxed=True, limits=SandboxLimits(max_output_chars=100))
    try:
        assert not sandbox.sandboxed
        result = await sandbox.run("print('z' * 500)\n21 * 2")
        assert result.value == "42" and result.truncated_chars == 401  # 500 + newline - 100
    finally:
        await sandbox.aclose()


async def test_bad_arguments_are_rejected(box: LocalSandbox) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        await box.run("1", timeout_s=0)
    with pytest.raises(ValueError, match="max_output_chars"):
        SandboxLimits(max_output_chars=5)
