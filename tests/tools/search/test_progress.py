"""Progress while an index is built: the callback's counts and the terminal bar."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pexpect

from ponder.tools.search import LocalIndex
from ponder.tools.search.progress import ProgressBar


def _folder(root: Path, files: int) -> Path:
    root.mkdir()
    for n in range(files):
        (root / f"note{n:02}.md").write_text(f"# Note {n}\n\nSaturn has {n} rings.\n")
    (root / "skipped.csv").write_text("not indexed\n")
    return root


def test_progress_counts_every_file_against_the_total_known_up_front(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs", 7)
    calls: list[tuple[int, int | None]] = []
    stats = LocalIndex(tmp_path / "i.sqlite3").index_folder(
        folder, progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(n, 7) for n in range(1, 8)]
    assert stats.files_indexed == 7
    calls.clear()  # a re-sync still reports progress, over unchanged files
    LocalIndex(tmp_path / "i.sqlite3").index_folder(
        folder, progress=lambda done, total: calls.append((done, total))
    )
    assert calls[-1] == (7, 7)


def test_the_bar_redraws_one_line_and_ends_at_the_total() -> None:
    out = io.StringIO()
    bar = ProgressBar("indexing", stream=out)
    for done in range(1, 201):
        bar(done, 200)
    bar.finish()
    text = out.getvalue()
    assert "\n" not in text[:-1] and text.endswith("\n")  # one line, redrawn with \r
    assert text.rstrip("\n").rsplit("\r", 1)[-1].strip() == (
        "indexing [" + "#" * 30 + "] 200/200 files 100%"
    )
    assert text.count("\r") < 200  # throttled, not one redraw per file


def test_the_bar_without_a_total_counts_files() -> None:
    out = io.StringIO()
    bar = ProgressBar("indexing", stream=out)
    bar(3, None)
    bar.finish()
    assert out.getvalue().rstrip().endswith("indexing 3 files")


def test_ponder_index_shows_the_bar_on_a_terminal_only(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs", 5)
    db = tmp_path / "i.sqlite3"
    command = [sys.executable, "-m", "ponder", "index", str(folder), "--db", str(db)]
    child = pexpect.spawn(command[0], command[1:], env=dict(os.environ), encoding="utf-8")
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "5/5 files 100%" in child.before
    assert "indexed 5 files" in child.before

    piped = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert "indexed 0 files (5 unchanged" in piped.stdout
    assert "files 100%" not in piped.stderr + piped.stdout  # no bar where stderr is no terminal
