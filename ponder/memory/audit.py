"""Scan persisted bytes for a canary: the check behind "reasoning is never persisted".

Tests across ponder put a canary string into a model's reasoning, run, then
call :func:`scan_files_for` on every file the run could have written
(:func:`sqlite_artifacts` lists a SQLite database with its WAL and SHM files).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

__all__ = ["needle_forms", "scan_bytes_for", "scan_files_for", "sqlite_artifacts"]


def needle_forms(needle: str) -> list[bytes]:
    """The byte forms ``needle`` may take on disk: UTF-8, UTF-16 (LE/BE), JSON-escaped."""
    if not needle:
        raise ValueError("needle must be non-empty")
    forms = [needle.encode(), needle.encode("utf-16-le"), needle.encode("utf-16-be")]
    escaped = json.dumps(needle)[1:-1].encode()
    if escaped not in forms:
        forms.append(escaped)
    return forms


def scan_bytes_for(needle: str, data: bytes) -> bool:
    """True when any form of ``needle`` occurs in ``data``."""
    return any(form in data for form in needle_forms(needle))


def scan_files_for(needle: str, paths: Iterable[str | Path]) -> list[Path]:
    """The files (folders are walked) whose bytes contain ``needle`` in any form.

    Paths that do not exist are skipped, so callers may list optional files
    such as a WAL that was already checkpointed away.
    """
    hits: list[Path] = []
    for root in map(Path, paths):
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        hits.extend(f for f in files if f.is_file() and scan_bytes_for(needle, f.read_bytes()))
    return hits


def sqlite_artifacts(db_path: str | Path) -> list[Path]:
    """A SQLite database file and its companions (``-wal``, ``-shm``, ``-journal``)."""
    db = Path(db_path)
    return [db, *(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]
