"""One-line progress on a terminal while a local model loads and reads its prompt.

Drawn only when the stream is a terminal, so logs, pipes and ``--json``
output stay clean; redrawn at most every 0.2 s and cleared when done.
"""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["Progress"]

_EVERY_S = 0.2


class Progress:
    """A line redrawn in place: ``label done/total unit``."""

    def __init__(self, out: TextIO | None, label: str, total: int = 0, unit: str = "") -> None:
        self._out = out if out is not None and out.isatty() else None
        self._label, self._total, self._unit = label, total, unit
        self._started = time.monotonic()
        self._drawn = 0.0
        self.shown = False

    def update(self, done: int) -> None:
        """Redraw with ``done`` of the total (throttled)."""
        now = time.monotonic()
        if self._out is None or now - self._drawn < _EVERY_S:
            return
        self._drawn = now
        count = f" {done:,}/{self._total:,} {self._unit}" if self._total else ""
        self._write(f"\r\x1b[2K{self._label}{count} ({now - self._started:.0f} s)")

    def done(self) -> None:
        """Clear the line (nothing stays behind on the terminal)."""
        if self.shown:
            self._write("\r\x1b[2K")

    def _write(self, text: str) -> None:
        assert self._out is not None
        self._out.write(text)
        self._out.flush()
        self.shown = True
