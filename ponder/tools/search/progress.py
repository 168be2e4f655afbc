"""A one-line progress bar on stderr for building an index (files done of total)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "ProgressBar"]

Progress = Callable[[int, "int | None"], None]
"""Called with (files done, total files or ``None`` when unknown) after each file."""

_WIDTH = 30
_MIN_INTERVAL_S = 0.1


class ProgressBar:
    """Redraws ``label [#####.....] 523/1474 files 35%`` in place, at most ten times a second."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self._label = label
        self._stream = stream if stream is not None else sys.stderr
        self._last_drawn = 0.0
        self._last: tuple[int, int | None] = (0, None)
        self._width = 0
        self._draw(0, None)

    @classmethod
    def on_terminal(cls, label: str) -> ProgressBar | None:
        """A bar on stderr when it is a terminal; ``None`` otherwise (logs stay clean)."""
        return cls(label) if sys.stderr.isatty() else None

    def __call__(self, done: int, total: int | None) -> None:
        self._last = (done, total)
        now = time.monotonic()
        if now - self._last_drawn >= _MIN_INTERVAL_S or (total is not None and done >= total):
            self._draw(done, total)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        self._draw(*self._last)
        self._stream.write("\n")
        self._stream.flush()

    def _draw(self, done: int, total: int | None) -> None:
        self._last_drawn = time.monotonic()
        if total:
            filled = min(_WIDTH, _WIDTH * done // total)
            bar = "#" * filled + "." * (_WIDTH - filled)
            line = f"{self._label} [{bar}] {done}/{total} files {100 * done // total}%"
        else:
            line = f"{self._label} {done} files"
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)
