"""Text and JSON from a model, made safe to keep, show and send back.

Model output is untrusted: JSON may spell a lone UTF-16 surrogate
(``"\\ud800"``), which Python decodes into a ``str`` that cannot be encoded
as UTF-8 (so it could not be saved or sent in the next request), or an
integer of more digits than Python converts (``ValueError``). Both are
handled here, once, where the wire is decoded.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_INT_DIGITS", "loads_json", "well_formed"]

MAX_INT_DIGITS = 4_000
"""Longer integers stay text (Python refuses to convert beyond 4,300 digits)."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def well_formed(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a no-op for valid text)."""
    return _SURROGATE.sub("\ufffd", text)


def loads_json(data: str | bytes) -> Any:
    """``json.loads`` whose strings are well formed and whose huge integers stay text.

    Raises ``ValueError`` (``json.JSONDecodeError`` included) or
    ``RecursionError`` for what is not JSON.
    """
    value = json.loads(data, parse_int=_int_or_text)
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return _cleaned(value) if _SURROGATE_ESCAPE.search(raw) else value


def _int_or_text(digits: str) -> int | str:
    return int(digits) if len(digits.lstrip("-")) <= MAX_INT_DIGITS else digits


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    if isinstance(value, dict):
        return {well_formed(key): _cleaned(item) for key, item in value.items()}
    return value
