"""Provider error text is untrusted: cut out the reasoning and keys it quotes back.

A provider that rejects a request often quotes the offending input, and the
input may be reasoning replayed inside a tool loop. Such text must not reach
a log or a client, so every stretch of an error message that repeats a piece
of the reasoning sent (any run of :data:`WINDOW` characters or more) is
replaced, as is the API key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REDACTED", "WINDOW", "reasoning_sent", "redact_echoes", "replace_windows", "windows"]

REDACTED = "[redacted]"
WINDOW = 16
"""Shortest run of quoted reasoning that is recognised (shorter runs are common words)."""

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)
_REASONING_KEY = re.compile(r"reason|think", re.IGNORECASE)


def reasoning_sent(body: Mapping[str, Any]) -> list[str]:
    """Every reasoning text in a request body's messages (fields and ``<think>`` blocks)."""
    found: list[str] = []
    for message in body.get("messages") or ():
        if isinstance(message, Mapping):
            _collect(message, found, inside=False)
    return [text for text in found if len(text) >= WINDOW]


def _collect(value: Any, found: list[str], *, inside: bool) -> None:
    if isinstance(value, str):
        if inside:
            found.append(value)
        else:
            found.extend(m.group(0) for m in _THINK.finditer(value))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _collect(item, found, inside=inside or bool(_REASONING_KEY.search(str(key))))
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found, inside=inside)


def redact_echoes(message: str, secrets: Iterable[str]) -> str:
    """``message`` with each run that repeats part of a secret replaced by ``[redacted]``."""
    texts = [s for s in secrets if s]
    if not texts:
        return message
    grams: set[str] = set()
    for text in texts:
        if len(text) >= WINDOW:  # short secrets (keys) are matched whole, below
            grams.update(windows(text, WINDOW))
    for text in texts:
        if len(text) < WINDOW:
            message = message.replace(text, REDACTED)
    return replace_windows(message, grams, WINDOW, REDACTED)


def windows(text: str, width: int) -> set[str]:
    """Every run of ``width`` characters in ``text``."""
    return {text[i : i + width] for i in range(len(text) - width + 1)}


def replace_windows(text: str, grams: set[str], width: int, marker: str) -> str:
    """``text`` with each stretch covered by runs from ``grams`` replaced by one ``marker``."""
    if not grams or len(text) < width:
        return text
    covered = bytearray(len(text))
    for i in range(len(text) - width + 1):
        if text[i : i + width] in grams:
            covered[i : i + width] = b"\x01" * width
    if not any(covered):
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append(marker)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
