"""Where indexed documents come from: a user's folder, or the offline default corpus.

The default corpus is the installed Python's pydoc topics plus the docstrings of
the standard library and of sympy, read from source files (never imported).
Test folders and a few large non-API trees are skipped to keep it bounded.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ponder.tools.search.chunking import DocKind, kind_for_suffix

__all__ = [
    "DEFAULT_GLOBS",
    "Document",
    "DocumentSet",
    "default_corpus",
    "default_corpus_version",
    "folder_documents",
]

DEFAULT_GLOBS: tuple[str, ...] = ("**/*.md", "**/*.txt", "**/*.rst", "**/*.py")

_ALWAYS_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})
_CORPUS_SKIPPED_DIRS = _ALWAYS_SKIPPED_DIRS | {
    "test",
    "tests",
    "testing",
    "idle_test",
    "idlelib",
    "lib2to3",
    "turtledemo",
    "pydoc_data",
    "benchmarks",
}


@dataclass(frozen=True)
class Document:
    """One indexable unit: ``key`` identifies it in the index, ``source`` labels its results."""

    key: str
    source: str
    kind: DocKind
    name: str
    data: bytes
    mtime: float
    cites_lines: bool = True
    """Whether result sources get ``:<line>`` appended."""


@dataclass(frozen=True)
class DocumentSet:
    """The documents under one root; the index removes the root's documents not seen again."""

    root: str
    documents: Iterable[Document]
    size: int | None = None
    """How many documents there are, when known before reading them (for progress)."""


def folder_documents(folder: Path, globs: Iterable[str] = DEFAULT_GLOBS) -> DocumentSet:
    """Files under ``folder`` matching any glob (hidden and cache folders are skipped).

    A glob is matched against the POSIX path relative to ``folder`` with ``fnmatch``
    semantics (``*`` may cross ``/``); a leading ``**/`` also matches top-level files.
    """
    root = folder.resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {folder}")
    files = _matching_files(root, tuple(globs), _ALWAYS_SKIPPED_DIRS)
    return DocumentSet(str(root), _read(root, files, label=None), size=len(files))


def default_corpus() -> list[DocumentSet]:
    """The offline default corpus: pydoc topics, standard library and sympy docstrings."""
    from pydoc_data.topics import topics

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    stdlib_files = _matching_files(stdlib, ("*.py",), _CORPUS_SKIPPED_DIRS)
    sets = [
        DocumentSet("default:pydoc", _pydoc_topics(topics), size=len(topics)),
        DocumentSet(
            "default:stdlib", _read(stdlib, stdlib_files, "stdlib"), size=len(stdlib_files)
        ),
    ]
    spec = importlib.util.find_spec("sympy")
    if spec is not None and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
        files = _matching_files(package, ("*.py",), _CORPUS_SKIPPED_DIRS)
        documents = _read(package, files, "sympy", module_prefix="sympy")
        sets.append(DocumentSet("default:sympy", documents, size=len(files)))
    return sets


def default_corpus_version() -> str:
    """Identifies the inputs of the default corpus; a change triggers an incremental rebuild."""
    try:
        sympy_version = importlib.metadata.version("sympy")
    except importlib.metadata.PackageNotFoundError:
        sympy_version = "absent"
    return f"python {sys.version.split()[0]} at {sys.base_prefix}; sympy {sympy_version}"


def _pydoc_topics(topics: dict[str, str]) -> Iterator[Document]:
    version = sys.version.split()[0]
    for topic, text in sorted(topics.items()):
        yield Document(
            key=f"pydoc:{topic}",
            source=f"python {version} docs: {topic}",
            kind="rst",
            name=topic,
            data=text.encode("utf-8"),
            mtime=0.0,
            cites_lines=False,
        )


def _matching_files(root: Path, patterns: tuple[str, ...], skipped: frozenset[str]) -> list[Path]:
    """Matching files under ``root`` in a stable order, pruning skipped and hidden folders."""
    found: list[Path] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in skipped and not d.startswith("."))
        for filename in sorted(files):
            path = Path(directory, filename)
            relative = path.relative_to(root).as_posix()
            if not filename.startswith(".") and _matches(relative, patterns):
                found.append(path)
    return found


def _read(
    root: Path, files: list[Path], label: str | None, *, module_prefix: str = ""
) -> Iterator[Document]:
    """The files as documents, read one at a time; files that vanished are skipped."""
    for path in files:
        relative = path.relative_to(root).as_posix()
        try:
            data = path.read_bytes()
            mtime = path.stat().st_mtime
        except OSError:
            continue
        kind = kind_for_suffix(path.suffix)
        name = _module_name(relative, module_prefix) if kind == "python" else path.name
        source = f"{label}/{relative}" if label else str(path)
        yield Document(str(path), source, kind, name, data, mtime)


def _matches(relative: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if fnmatch.fnmatchcase(relative, pattern):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatchcase(relative, pattern[3:]):
            return True
    return False


def _module_name(relative: str, prefix: str) -> str:
    parts = relative.removesuffix(".pyi").removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([prefix, *parts] if prefix else parts) or "__init__"
