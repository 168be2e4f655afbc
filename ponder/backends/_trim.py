"""Whitespace trimming for text that arrives in pieces (shared by the stream parsers)."""

from __future__ import annotations

__all__ = ["Trimmer"]


class Trimmer:
    """Release streamed text with its outer whitespace removed.

    Leading whitespace is dropped; trailing whitespace is held back until
    non-whitespace text follows it (then it is inner and is released). The
    concatenation of everything :meth:`push` returns is therefore exactly
    ``"".join(pushed).strip()``, whatever the chunking.
    """

    __slots__ = ("_held", "_started")

    def __init__(self) -> None:
        self._started = False
        self._held: list[str] = []

    def push(self, text: str) -> str:
        """Take the next piece of text; return what can be released now (maybe "")."""
        if not self._started:
            text = text.lstrip()
            if not text:
                return ""
            self._started = True
        body = text.rstrip()
        if not body:
            self._held.append(text)
            return ""
        tail = text[len(body) :]
        if self._held:
            body = "".join(self._held) + body
            self._held.clear()
        if tail:
            self._held.append(tail)
        return body
