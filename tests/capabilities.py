"""What a test needs from the machine, and the one rule for when it is missing.

A missing capability skips the test with a stated reason on a developer's
machine; under ``CI=true`` it fails instead, because ``.ci/run`` installs
everything the suite needs and a skip there would hide a check.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = ["bubblewrap_missing", "missing", "need_executable", "path_without"]


def missing(what: str, how: str) -> NoReturn:
    """Skip (fail under CI) because ``what`` is not available; ``how`` says how to get it."""
    message = f"{what} is not available ({how})"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {message}: this test must run in CI")
    pytest.skip(reason=message)


def need_executable(name: str, how: str) -> str:
    """The path of executable ``name``, or skip/fail as :func:`missing` does."""
    path = shutil.which(name)
    if path is None:
        missing(f"the {name!r} executable", how)
    return path


def bubblewrap_missing() -> str | None:
    """Why the bubblewrap sandbox cannot run here, or None when it can."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed (apt-get install bubblewrap)"
    return None


def path_without(name: str, shims: Path) -> str:
    """A PATH like this one on which executable ``name`` is not found.

    Folders holding ``name`` are replaced by ``shims``, filled with links to
    everything else they hold, so a subprocess still finds python, git, etc.
    """
    shims.mkdir(parents=True, exist_ok=True)
    folders: list[str] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not os.path.isdir(folder):
            continue
        if not os.path.exists(os.path.join(folder, name)):
            folders.append(folder)
            continue
        for entry in os.listdir(folder):
            link = shims / entry
            if entry != name and not link.exists():
                link.symlink_to(os.path.join(folder, entry))
        if str(shims) not in folders:
            folders.append(str(shims))
    return os.pathsep.join(folders)
