"""A careful, pure-Python unified-diff applier (no shell, no ``patch`` binary).

Diffs written by models are often slightly off: wrong hunk counts, wrong
line numbers, blank context lines without their leading space. The parser
ignores the counts, uses line numbers only as a hint, and finds each hunk by
its context; anything it cannot place exactly fails with a
:class:`PatchError` that says which file, which hunk and which line.
Every file is checked before any file is written, and no path may leave the
root folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = ["FilePatch", "Hunk", "PatchError", "apply_unified_diff", "parse_unified_diff"]

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_DEV_NULL = "/dev/null"
_MAX_PATCH_CHARS = 200_000


class PatchError(ValueError):
    """The diff is malformed, unsafe, or does not match the files."""


@dataclass
class Hunk:
    """One ``@@`` block: the lines it expects and the lines it writes."""

    old_start: int
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)


@dataclass
class FilePatch:
    """The hunks for one file; ``old_path``/``new_path`` is ``None`` for /dev/null."""

    old_path: str | None
    new_path: str | None
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The file this patch changes, creates or deletes."""
        path = self.new_path or self.old_path
        assert path is not None  # the parser never builds a patch with neither
        return path


def parse_unified_diff(text: str) -> list[FilePatch]:
    """The file patches in ``text``; raises :class:`PatchError` when there are none."""
    if len(text) > _MAX_PATCH_CHARS:
        raise PatchError(f"the patch is longer than {_MAX_PATCH_CHARS} characters")
    lines = text.replace("\r\n", "\n").split("\n")
    patches: list[FilePatch] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            patches.append(FilePatch(_header_path(line), _header_path(lines[i + 1])))
            if patches[-1].old_path is None and patches[-1].new_path is None:
                raise PatchError(f"line {i + 1}: both sides of the file header are /dev/null")
            i += 2
            continue
        header = _HUNK_HEADER.match(line)
        if header:
            if not patches:
                raise PatchError(f"line {i + 1}: a hunk before any '--- a/… +++ b/…' header")
            hunk = Hunk(old_start=int(header.group(1)))
            i = _read_hunk_body(lines, i + 1, hunk)
            if not hunk.old and not hunk.new:
                raise PatchError(f"line {i}: an empty hunk")
            patches[-1].hunks.append(hunk)
            continue
        i += 1  # "diff --git", "index …", commentary: not part of the patch
    if not patches:
        raise PatchError("no file header ('--- a/PATH' then '+++ b/PATH') found in the patch")
    for patch in patches:
        if not patch.hunks:
            raise PatchError(f"{patch.path}: a file header with no hunks")
    return patches


def apply_unified_diff(root: Path, diff: str) -> list[str]:
    """Apply ``diff`` to the files under ``root``; return the changed paths.

    Raises :class:`PatchError` (and writes nothing) when any hunk of any file
    does not match.
    """
    root = root.resolve()
    planned: dict[Path, str | None] = {}
    for patch in parse_unified_diff(diff):
        target = _safe_path(root, patch.path)
        if patch.old_path is None:
            if target.exists() or target in planned:
                raise PatchError(f"{patch.path}: the patch creates it, but it already exists")
            original = ""
        else:
            if target in planned:
                raise PatchError(f"{patch.path}: patched twice in one diff")
            if not target.is_file():
                raise PatchError(f"{patch.path}: no such file in the project")
            try:
                with open(target, encoding="utf-8", newline="") as handle:
                    original = handle.read()
            except UnicodeDecodeError:
                raise PatchError(f"{patch.path}: not a UTF-8 text file") from None
        planned[target] = _patched_text(patch, original)
    for target, text in planned.items():
        if text is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    return [target.relative_to(root).as_posix() for target in planned]


def _header_path(line: str) -> str | None:
    raw = line[4:].split("\t", 1)[0].strip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) > 1:
        raw = raw[1:-1]
    if raw == _DEV_NULL:
        return None
    if raw[:2] in ("a/", "b/"):
        raw = raw[2:]
    if not raw:
        raise PatchError(f"an empty path in the file header {line!r}")
    return raw


def _read_hunk_body(lines: list[str], i: int, hunk: Hunk) -> int:
    """Read hunk lines from ``i``; return the index of the first line after the hunk."""
    while i < len(lines):
        line = lines[i]
        if _HUNK_HEADER.match(line):
            break
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            break
        if line.startswith("\\"):  # "\ No newline at end of file"
            i += 1
            continue
        tag, body = line[:1], line[1:]
        if tag == " " or line == "":
            if line == "" and _only_blank_left(lines, i):
                break
            hunk.old.append(body)
            hunk.new.append(body)
        elif tag == "-":
            hunk.old.append(body)
        elif tag == "+":
            hunk.new.append(body)
        else:
            break
        i += 1
    return i


def _only_blank_left(lines: list[str], i: int) -> bool:
    return all(not line.strip() for line in lines[i:])


def _safe_path(root: Path, relative: str) -> Path:
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise PatchError(f"{relative}: paths must be relative and stay inside the project")
    target = (root / pure).resolve()
    if not target.is_relative_to(root):
        raise PatchError(f"{relative}: resolves outside the project")
    return target


def _patched_text(patch: FilePatch, original: str) -> str | None:
    """The new text of the file, or ``None`` when the patch deletes it."""
    newline = "\r\n" if "\r\n" in original else "\n"
    ends_with_newline = original.endswith(("\n", "\r\n")) or not original
    lines = original.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    cursor = 0
    for number, hunk in enumerate(patch.hunks, start=1):
        at = _locate(lines, hunk, cursor, f"{patch.path}, hunk {number}")
        lines[at : at + len(hunk.old)] = hunk.new
        cursor = at + len(hunk.new)
    if patch.new_path is None:
        if lines:
            raise PatchError(f"{patch.path}: the patch deletes it but leaves lines behind")
        return None
    text = newline.join(lines)
    return text + newline if lines and ends_with_newline else text


def _locate(lines: list[str], hunk: Hunk, cursor: int, where: str) -> int:
    """Where ``hunk.old`` starts in ``lines`` (at or after ``cursor``)."""
    if not hunk.old:  # pure insertion: trust the line number
        return min(max(hunk.old_start, cursor), len(lines))
    hint = max(hunk.old_start - 1, cursor)
    for loose in (False, True):
        matches = [
            start
            for start in range(cursor, len(lines) - len(hunk.old) + 1)
            if _block_matches(lines, start, hunk.old, loose=loose)
        ]
        if matches:
            return min(matches, key=lambda start: abs(start - hint))
    raise PatchError(f"{where}: the context does not match the file. {_mismatch(lines, hunk)}")


def _block_matches(lines: list[str], start: int, block: list[str], *, loose: bool) -> bool:
    if loose:
        return all(lines[start + k].rstrip() == want.rstrip() for k, want in enumerate(block))
    return lines[start : start + len(block)] == block


def _mismatch(lines: list[str], hunk: Hunk) -> str:
    """Say which expected line is missing, at the place that matched longest."""
    best_start, best_len = 0, -1
    for start in range(len(lines)):
        length = 0
        while (
            length < len(hunk.old)
            and start + length < len(lines)
            and lines[start + length].rstrip() == hunk.old[length].rstrip()
        ):
            length += 1
        if length > best_len:
            best_start, best_len = start, length
    if best_len <= 0:
        return f"Its first line {hunk.old[0]!r} is not in the file."
    line_no = best_start + best_len + 1
    found = lines[best_start + best_len] if best_start + best_len < len(lines) else "<end of file>"
    return f"Line {line_no} should be {hunk.old[best_len]!r} but is {found!r}."
