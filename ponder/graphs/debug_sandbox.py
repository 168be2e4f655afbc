"""A throw-away copy of a user's project, and commands run over it in fresh boxes.

The debugger never touches the user's files, and the host never touches a
folder code in a box can write. The project is copied once into a private
host folder (``root``, never shown to a box writable); a patch is applied by
the pure-Python applier to a new private copy of that; each command runs in
a fresh box over a copy of it (:func:`~ponder.tools.code.command.run_command`),
whose exit status the host reads itself. The model's ``run_python`` session
gets its own copy, in its own box's tmpfs, at the start of each session.
"""

from __future__ import annotations

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
from ponder.tools.code.command import run_command

__all__ = ["CommandRun", "SandboxProject"]

_IGNORED = shutil.ignore_patterns(
    ".git", ".hg", ".venv", "venv", "__pycache__", "*.pyc", "node_modules",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox",
)  # fmt: skip
_MAX_FILES = 2_000
_MAX_BYTES = 50 * 1024 * 1024
_OUTPUT_HEAD, _OUTPUT_TAIL = 3_000, 5_000

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

    ``root`` is the pristine copy (host-private). :meth:`apply` makes a
    patched copy next to it; :meth:`restore` drops that. :meth:`aclose`
    kills the session's box and deletes both.
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
        self.limits = limits or SandboxLimits(wall_timeout_s=120)
        self._tmp = Path(tempfile.mkdtemp(prefix="ponder-debug-"))
        self.root = self._tmp / "project"
        self._staged: Path | None = None
        self._copies = 0
        try:
            _copy_source(source, self.root)
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        self.runner = LocalSandbox(limits=self.limits, seed=self.root)

    def restore(self) -> None:
        """Drop the patched copy: commands run over the pristine files again."""
        staged, self._staged = self._staged, None
        if staged is not None:
            shutil.rmtree(staged)

    def apply(self, diff: str) -> list[str]:
        """Apply a unified diff to a fresh copy of the pristine files (see
        :func:`apply_unified_diff`); later commands run over that copy."""
        self.restore()
        self._copies += 1
        staged = self._tmp / f"patched-{self._copies}"
        shutil.copytree(self.root, staged, symlinks=True)
        try:
            changed = apply_unified_diff(staged, diff)
        except BaseException:
            shutil.rmtree(staged)
            raise
        _readable(staged)
        self._staged = staged
        return changed

    async def run_command(self, command: str, *, timeout_s: float = 60.0) -> CommandRun:
        """Run ``command`` (split like a POSIX shell, but never run by one) in a fresh box."""
        argv = shlex.split(command)
        if not argv:
            raise ValueError("the command is empty")
        outcome = await run_command(
            argv,
            seed=self._staged or self.root,
            limits=self.limits,
            timeout_s=timeout_s,
            head_chars=_OUTPUT_HEAD,
            tail_chars=_OUTPUT_TAIL,
        )
        return CommandRun(
            command=command,
            exit_code=outcome.exit_code,
            output=outcome.output,
            timed_out=outcome.timed_out,
        )

    async def open_session(self) -> None:
        """Let the model's ``run_python`` session import the project's modules."""
        await self.runner.run(_SESSION_SETUP)

    def listing(self, limit: int = 200) -> list[str]:
        """Relative paths of the pristine copy's regular files (at most ``limit``)."""
        files = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in filenames:
                path = os.path.join(dirpath, name)
                if stat.S_ISREG(os.lstat(path).st_mode):
                    files.append(Path(path).relative_to(self.root).as_posix())
        return sorted(files)[:limit]

    async def aclose(self) -> None:
        """Stop the session's box and delete the copies."""
        try:
            await self.runner.aclose()
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _copy_source(source: Path | Mapping[str, str], root: Path) -> None:
    if isinstance(source, Path):
        shutil.copytree(source, root, ignore=_IGNORED, symlinks=True)
    else:
        root.mkdir()
        for name, text in source.items():
            target = root / _relative(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    _readable(root)


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


def _readable(root: Path) -> None:
    """Let the box's unprivileged uid read (only read) the host-private copy.

    The folder above ``root`` is the host's 0700 temp folder; the box sees
    ``root`` only through a read-only bind.
    """
    os.chmod(root, 0o755)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | 0o444)
