"""Turning tool return values and errors into capped text for the model."""

from __future__ import annotations

from typing import Any

import pydantic_core
from pydantic import ValidationError

__all__ = ["clip", "describe_validation_error", "render_output", "shorten", "truncate"]

NO_OUTPUT = "(no output)"


def render_output(value: Any) -> str:
    """``str`` as is, ``None`` as ``(no output)``, anything else as JSON."""
    if value is None:
        return NO_OUTPUT
    if isinstance(value, str):
        return value
    return pydantic_core.to_json(value, fallback=repr).decode()


def truncate(text: str, limit: int) -> tuple[str, int]:
    """Cap ``text`` at about ``limit`` characters, keeping its head and tail.

    Returns the text and how many characters were cut; the cut is marked in
    place with a note giving that number.
    """
    if len(text) <= limit:
        return text, 0
    cut = len(text) - limit
    while True:  # the note's own length depends on the number it reports
        note = f"\n\n[... {cut} characters cut ...]\n\n"
        keep = max(limit - len(note), 0)
        if len(text) - keep == cut:
            break
        cut = len(text) - keep
    head = keep - keep // 2
    tail = keep // 2
    return text[:head] + note + (text[-tail:] if tail else ""), cut


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``...`` if cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shorten(value: Any, limit: int = 200) -> str:
    """A one-line ``repr`` of ``value`` of at most ``limit`` characters."""
    return clip(repr(value), limit)


def describe_validation_error(exc: ValidationError, *, limit: int = 8) -> str:
    """Pydantic's errors as ``- at field: message (got value)`` lines."""
    errors = exc.errors(include_url=False)
    lines = [
        f"- at {_location(e['loc'])}: {e['msg']} (got {shorten(e.get('input'))})"
        for e in errors[:limit]
    ]
    if len(errors) > limit:
        lines.append(f"- ... and {len(errors) - limit} more")
    return "\n".join(lines)


def _location(loc: tuple[int | str, ...]) -> str:
    return "/".join(str(part) for part in loc) or "(arguments)"
