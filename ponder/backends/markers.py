"""Make reasoning markers inside answer text inert, so the answer can be kept whole.

A model may write a literal ``</think>``, ``<think>`` or an R1/DeepSeek special
token (``<｜…｜>``) inside its answer: it was told about them, or a server leaked
one. Such an answer is still the answer. Cutting it at the marker (what a
reasoning stripper does) loses text in silence, and storing it verbatim would
trip the memory store's reasoning guard. The one rule applied here, before the
answer is shown: a WORD JOINER (U+2060, invisible) goes right after the ``<``
of every such marker. The text reads the same, what is shown, returned and
stored is the same string, and no marker pattern matches it any more.
"""

from __future__ import annotations

import re

__all__ = ["WORD_JOINER", "MarkerGuard", "neutralise_markers"]

WORD_JOINER = "\u2060"

_MARKER_START = re.compile(r"<(?=\s*/?\s*think(?:ing)?\s*>|｜)", re.IGNORECASE)
_REASONING_KEY = re.compile(r'"(reasoning_content|reasoning_details)"(?=\s*:)')
# What may follow a "<" that could still grow into a think tag or "<｜".
_MAYBE_TAG = re.compile(r"\s*/?\s*[a-z]{0,8}\s*", re.IGNORECASE)


def neutralise_markers(text: str, *, json_keys: bool = False) -> str:
    """``text`` with every think tag and ``<｜`` token made inert (idempotent).

    ``json_keys`` also breaks ``"reasoning_content":``-style keys in JSON text
    (tool arguments and outputs), which the store refuses too.
    """
    text = _MARKER_START.sub("<" + WORD_JOINER, text)
    if json_keys:
        text = _REASONING_KEY.sub('"\\1' + WORD_JOINER + '"', text)
    return text


class MarkerGuard:
    """:func:`neutralise_markers` for text that arrives in pieces.

    A suffix that could still become a marker is held back until it cannot;
    the concatenation of what :meth:`feed` and :meth:`flush` return equals
    ``neutralise_markers("".join(fed))`` for any chunking.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        """Take the next piece; return the text that is safe to show now."""
        buf = self._held + text
        cut = _unsettled_start(buf)
        self._held = buf[cut:]
        return neutralise_markers(buf[:cut])

    def flush(self) -> str:
        """Release what is held (the stream ended)."""
        held, self._held = self._held, ""
        return neutralise_markers(held)


def _unsettled_start(buf: str) -> int:
    i = buf.rfind("<")
    if i >= 0 and _MAYBE_TAG.fullmatch(buf, i + 1):
        return i
    return len(buf)
