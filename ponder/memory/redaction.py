"""Detect and strip reasoning in text and in nested Python values.

Two walls keep reasoning out of storage: callers strip it before saving
(:func:`strip_reasoning`, :func:`redact`), and the store refuses anything that
still carries it (:func:`contains_reasoning` → :class:`ReasoningLeakError`).
Markers recognised: ``<think>``/``</think>`` (and ``<thinking>``), and the
DeepSeek-R1 special-token family written with fullwidth bars
(``<｜begin▁of▁sentence｜>``, ``<｜tool▁calls▁begin｜>``, ``<｜DSML｜…``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pydantic import BaseModel

__all__ = [
    "REASONING_BLOCK_TYPES",
    "REASONING_KEYS",
    "ReasoningLeakError",
    "contains_reasoning",
    "has_reasoning_keys",
    "redact",
    "strip_reasoning",
]

REASONING_KEYS: frozenset[str] = frozenset(
    {"reasoning", "reasoning_content", "reasoning_details", "thinking"}
)
"""Mapping keys and attribute names whose values are reasoning."""

REASONING_BLOCK_TYPES: frozenset[str] = frozenset({"reasoning", "thinking", "redacted_thinking"})
"""``type`` values of content blocks that hold reasoning."""

_TAG = re.compile(r"<\s*/?\s*think(?:ing)?\s*>", re.IGNORECASE)
_OPEN = re.compile(r"<\s*think(?:ing)?\s*>", re.IGNORECASE)
_CLOSE = re.compile(r"<\s*/\s*think(?:ing)?\s*>", re.IGNORECASE)
_BLOCK = re.compile(r"<\s*think(?:ing)?\s*>.*?<\s*/\s*think(?:ing)?\s*>", re.IGNORECASE | re.DOTALL)
_SPECIAL = re.compile(r"<｜[^｜<>\n]{1,64}｜>?")
_JSON_KEY = re.compile(r'"(?:reasoning_content|reasoning_details)"\s*:')


class ReasoningLeakError(ValueError):
    """Text meant for storage still carries reasoning markers."""


def contains_reasoning(text: str) -> bool:
    """True when ``text`` holds a think tag or an R1 special token."""
    return bool(_TAG.search(text) or _SPECIAL.search(text))


def has_reasoning_keys(json_text: str) -> bool:
    """True when JSON text (possibly truncated) has a ``reasoning_content``/``_details`` key."""
    return bool(_JSON_KEY.search(json_text))


def strip_reasoning(text: str) -> str:
    """Remove reasoning from ``text``; the result never satisfies :func:`contains_reasoning`.

    Closed ``<think>…</think>`` blocks go first. An unpaired ``</think>`` means
    the thought began before the text (a template-opened tag), so everything up
    to it goes; an unclosed ``<think>`` means the rest is thought. R1 special
    tokens are removed. Leading whitespace left behind by a removal is dropped.
    """
    changed = False
    while contains_reasoning(text):
        changed = True
        text = _BLOCK.sub("", text)
        closes = list(_CLOSE.finditer(text))
        if closes:
            text = text[closes[-1].end() :]
        opened = _OPEN.search(text)
        if opened:
            text = text[: opened.start()]
        text = _SPECIAL.sub("", text)
    return text.lstrip() if changed else text


def redact(value: Any) -> Any:
    """Return ``value`` with reasoning removed, recursively; unchanged parts are shared.

    Handles strings (inline think blocks), mappings (reasoning keys dropped),
    lists/tuples/sets/named tuples (reasoning content blocks dropped), pydantic
    models (reasoning fields reset to their defaults; langchain messages and
    ponder ``AssistantMessage`` included) and dataclasses. Other objects pass
    through untouched.
    """
    if isinstance(value, str):
        return strip_reasoning(value)
    if isinstance(value, dict):
        return _redact_mapping(value)
    if isinstance(value, list | tuple | set | frozenset):
        return _redact_collection(value)
    if isinstance(value, BaseModel):
        return _redact_model(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _redact_dataclass(value)
    return value


def _is_reasoning_block(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") in REASONING_BLOCK_TYPES


def _redact_mapping(value: dict[Any, Any]) -> dict[Any, Any]:
    out = {k: redact(v) for k, v in value.items() if k not in REASONING_KEYS}
    same = len(out) == len(value) and all(out[k] is value[k] for k in out)
    return value if same else out


def _redact_collection(value: Any) -> Any:
    items = [redact(item) for item in value if not _is_reasoning_block(item)]
    if len(items) == len(value) and all(a is b for a, b in zip(items, value, strict=True)):
        return value
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*items)
    return type(value)(items)


def _redact_model(value: BaseModel) -> BaseModel:
    fields = type(value).model_fields
    update: dict[str, Any] = {}
    for name, info in fields.items():
        current = getattr(value, name)
        if name in REASONING_KEYS:
            default = info.get_default(call_default_factory=True)
            if current != default:
                update[name] = default
            continue
        new = redact(current)
        if new is not current:
            update[name] = new
    return value.model_copy(update=update) if update else value


def _redact_dataclass(value: Any) -> Any:
    update: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        if not field.init:
            continue
        current = getattr(value, field.name)
        new = None if field.name in REASONING_KEYS else redact(current)
        if new is not current:
            update[field.name] = new
    return dataclasses.replace(value, **update) if update else value
