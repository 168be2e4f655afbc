"""Google-style docstring parsing: a summary and per-argument descriptions."""

from __future__ import annotations

import inspect
import re

__all__ = ["parse_docstring"]

_SECTION = re.compile(r"^\s*([A-Z][A-Za-z ]*):\s*$")
_ARGS_SECTIONS = frozenset({"Args", "Arguments", "Parameters", "Params"})
_ARG_LINE = re.compile(r"^\s*\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Return ``(summary, {argument: description})`` from a Google-style docstring.

    The summary is the first paragraph joined into one line; argument
    descriptions come from an ``Args:`` section, continuation lines included.
    """
    text = inspect.cleandoc(doc or "")
    if not text:
        return "", {}
    lines = text.splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line):
            break
        summary.append(line.strip())
    return " ".join(summary), _args_section(lines)


def _args_section(lines: list[str]) -> dict[str, str]:
    args: dict[str, list[str]] = {}
    in_args = False
    arg_indent: int | None = None
    current: str | None = None
    for line in lines:
        header = _SECTION.match(line)
        if header and (not in_args or _indent(line) < (arg_indent or 1)):
            in_args = header.group(1) in _ARGS_SECTIONS
            arg_indent, current = None, None
            continue
        if not in_args or not line.strip():
            continue
        indent = _indent(line)
        if arg_indent is None:
            arg_indent = indent
        match = _ARG_LINE.match(line)
        if indent == arg_indent and match:
            current = match.group(1)
            args[current] = [match.group(2).strip()]
        elif indent > arg_indent and current is not None:
            args[current].append(line.strip())
        else:
            in_args, current = False, None
    return {name: " ".join(p for p in parts if p) for name, parts in args.items()}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
