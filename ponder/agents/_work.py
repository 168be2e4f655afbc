"""Reading a student's step-by-step work into proof-checker steps (no model involved)."""

from __future__ import annotations

import json
import re

__all__ = ["StudentWork", "parse_work"]

_ENUMERATION = re.compile(r"^\s*(?:step\s*\d+\s*[:.)]|\d+\s*[.):]|[-*•])\s*", re.IGNORECASE)
_MATH_CHARS = re.compile(r"^[\w\s+\-*/^().,=<>!]+$")
_WORD = re.compile(r"[A-Za-z]{2,}")
_FUNCTIONS = frozenset(
    [
        "sin",
        "cos",
        "tan",
        "exp",
        "log",
        "ln",
        "sqrt",
        "Abs",
        "abs",
        "pi",
        "oo",
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "tanh",
    ]
)
_IMPLICIT_PRODUCT = re.compile(r"(?<=[\d)])\s*(?=[A-Za-z(])")


class StudentWork:
    """The steps of a derivation and the prose around them (the problem statement)."""

    def __init__(self, steps: list[str], context: list[str]) -> None:
        self.steps = steps
        self.context = context


def parse_work(text: str) -> StudentWork:
    """Split ``text`` into math steps and context lines.

    Accepts a JSON list of steps, a JSON object with ``steps``, or one step a
    line (``1.``, ``Step 2:`` or bullet prefixes are dropped; ``2x`` is read
    as ``2*x``). Lines with words other than function names are context.
    Raises :class:`ValueError` when fewer than two steps are found.
    """
    steps: list[str]
    context: list[str] = []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("steps"), list):
        steps = [str(s) for s in data["steps"]]
        context = [str(data["problem"])] if data.get("problem") else []
    elif isinstance(data, list):
        steps = [str(s) for s in data]
    else:
        steps = []
        for raw in text.splitlines():
            line = _ENUMERATION.sub("", raw).strip()
            if not line:
                continue
            if _is_math(line):
                steps.append(_IMPLICIT_PRODUCT.sub("*", line))
            else:
                context.append(raw.strip())
    if len(steps) < 2:
        raise ValueError(
            "found fewer than two steps to check; write one step a line (e.g. '2*x + 3 = 7' "
            "then '2*x = 4'), or pass JSON {\"steps\": [...]}"
        )
    return StudentWork(steps, context)


def _is_math(line: str) -> bool:
    if not _MATH_CHARS.match(line):
        return False
    return all(word in _FUNCTIONS for word in _WORD.findall(line))
