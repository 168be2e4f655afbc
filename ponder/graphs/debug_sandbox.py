"""A throw-away copy of a user's project inside the local code sandbox.

The debugger never touches the user's files: it copies them into the work
folder of a :class:`~ponder.tools.code.LocalSandbox`, runs the failing
command there (a subprocess started *inside* the box, so it inherits the
box's isolation and limits), applies patches to the copy with the pure-Python
applier, and can restore the pristine copy between attempts.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict

from ponder.graphs.patching import apply_unified_diff
from ponder.tools.code import LocalSandbox, SandboxLimits

__all__ = ["CommandRun", "SandboxProject"]

_IGNORED = shutil.ignore_patterns(
    ".git", ".hg", ".venv", "venv", "__pycache__", "*.pyc", "node_modules",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox",
)  # fmt: skip
_MAX_FILES = 2_000
_MAX_BYTES = 50 * 1024 * 1024
_OUTPUT_HEAD, _OUTPUT_TAIL = 3_000, 5_000

# Runs inside the box. Only the JSON-encoded argv and two numbers are
# substituted, as Python literals: the command never reaches a shell.
_RUNNER_CODE = """
def _ponder_run_command():
    import json, os, subprocess, sys
    argv = json.loads({argv!r})
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    elif argv[0] in ("pytest", "py.test"):
        argv[:1] = [sys.executable, "-m", "pytest"]
    packages = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(packages), PYTHONDONTWRITEBYTECODE="1")
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=env, timeout={timeout})
        code, raw, timed_out = done.returncode, done.stdout, False
    except subprocess.TimeoutExpired as exc:
        code, raw, timed_out = None, exc.output or b"", True
    except OSError as exc:
        code, raw, timed_out = 127, str(exc).encode(), False
    text = raw.decode("utf-8", "replace")
    if len(text) > {head} + {tail}:
        cut = len(text) - {head} - {tail}
        text = text[:{head}] + f"\\n[... {{cut}} characters cut ...]\\n" + text[-{tail}:]
    print("\\n" + json.dumps({{"exit_code": code, "output": text, "timed_out": timed_out}}))
_ponder_run_command()
del _ponder_run_command
"""

_SESSION_SETUP = "import os as _os, sys as _sys\n_sys.path[:0] = [_os.getcwd()]\ndel _os, _sys"


class CommandRun(BaseModel):
    """One run of the command in the sandbox copy: the evidence."""

    model_config = ConfigDict(frozen=True)

    command: str
    exit_code: int | None
    output: str
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        """True when the command exited with status 0 in time."""
        return self.exit_code == 0 and not self.timed_out


class SandboxProject:
    """A sandboxed copy of ``source`` (a folder, or ``{relative path: text}``).

    The copy lives in a private temporary folder that is the sandbox's work
    folder; :meth:`aclose` kills the sandbox and deletes it.
    """

    def __init__(
        self,
        source: Path | Mapping[str, str],
        *,
        limits: SandboxLimits | None = None,
    ) -> None:
        if isinstance(source, Path):
            source = source.expanduser().resolve()
            if not source.is_dir():
                raise ValueError(f"the project folder {str(source)!r} does not exist")
            _check_size(source)
        elif not source:
            raise ValueError("the code snippet has no files")
        self.source = source
        self._tmp = Path(tempfile.mkdtemp(prefix="ponder-debug-"))
        self.root = self._tmp / "project"
        self.root.mkdir()
        self.runner = LocalSandbox(
            limits=limits or SandboxLimits(wall_timeout_s=120), workdir=self.root
        )
        self.restore()

    def restore(self) -> None:
        """Make the copy identical to the source again (the work folder itself stays)."""
        for child in self.root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        if isinstance(self.source, Path):
            shutil.copytree(
                self.source, self.root, ignore=_IGNORED, symlinks=True, dirs_exist_ok=True
            )
        else:
            for name, text in self.source.items():
                target = self.root / _relative(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        _open_to_box(self.root)

    def apply(self, diff: str) -> list[str]:
        """Apply a unified diff to the copy (see :func:`apply_unified_diff`)."""
        changed = apply_unified_diff(self.root, diff)
        _open_to_box(self.root)
        return changed

    async def run_command(self, command: str, *, timeout_s: float = 60.0) -> CommandRun:
        """Run ``command`` (split like a POSIX shell, but never run by one) in the box."""
        argv = shlex.split(command)
        if not argv:
            raise ValueError("the command is empty")
        code = _RUNNER_CODE.format(
            argv=json.dumps(argv), timeout=float(timeout_s), head=_OUTPUT_HEAD, tail=_OUTPUT_TAIL
        )
        result = await self.runner.run(code, timeout_s=timeout_s + 15)
        lines = result.stdout.strip().splitlines()
        if result.error is not None or not lines:
            detail = result.error.message if result.error else "no output"
            return CommandRun(
                command=command,
                exit_code=None,
                output=f"[sandbox] {detail}",
                timed_out=result.timed_out,
            )
        return CommandRun(command=command, **json.loads(lines[-1]))

    async def open_session(self) -> None:
        """Let the model's ``run_python`` session import the project's modules."""
        await self.runner.run(_SESSION_SETUP)

    def listing(self, limit: int = 200) -> list[str]:
        """Relative paths of the copy's files (at most ``limit``)."""
        files = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*"))
        return [f for f in files if (self.root / f).is_file()][:limit]

    async def aclose(self) -> None:
        """Stop the sandbox and delete the copy."""
        try:
            await self.runner.aclose()
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _relative(name: str) -> PurePosixPath:
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ValueError(f"snippet file names must be relative paths inside the project: {name!r}")
    return pure


def _check_size(folder: Path) -> None:
    count = size = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not _IGNORED(dirpath, [d])]
        for name in filenames:
            count += 1
            size += os.lstat(os.path.join(dirpath, name)).st_size
        if count > _MAX_FILES or size > _MAX_BYTES:
            raise ValueError(
                f"the project is too big for the debugger's sandbox copy "
                f"(limit {_MAX_FILES} files and {_MAX_BYTES // 2**20} MiB)"
            )


def _open_to_box(root: Path) -> None:
    """Let the box's unprivileged uid (a fresh one per session) read and write the copy."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o777)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, stat.S_IMODE(mode) | 0o666)
