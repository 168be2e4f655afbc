"""Shared machinery for the sympy checks: symbols from assumptions, sample
points, careful numeric evaluation, soft time limits and value formatting.

Runs inside a worker process (see :mod:`ponder.tools.proof.worker`).
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sympy

from .safe_parse import ParseError, SymbolTable, parse_sympy

__all__ = [
    "Context",
    "TimeUp",
    "differs",
    "fmt",
    "fmt_point",
    "is_zero",
    "numeric",
    "sample_points",
    "time_limit",
]

_TOL = 1e-9
_SIGN_FLAGS = {
    sympy.StrictGreaterThan: "positive",
    sympy.GreaterThan: "nonnegative",
    sympy.StrictLessThan: "negative",
    sympy.LessThan: "nonpositive",
    sympy.Unequality: "nonzero",
}
_MIRROR = {"positive": "negative", "nonnegative": "nonpositive", "nonzero": "nonzero"}
_MIRROR |= {v: k for k, v in _MIRROR.items()}
_NICE = [
    sympy.Integer(1),
    sympy.Integer(2),
    sympy.Integer(-1),
    sympy.Integer(3),
    sympy.Integer(-2),
    sympy.Rational(1, 2),
    sympy.Integer(-3),
    sympy.Rational(-1, 3),
    sympy.Integer(5),
    sympy.Rational(7, 3),
]


class TimeUp(Exception):
    """A soft time limit expired."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeUp` inside the block after ``seconds`` (main thread only).

    Uses ``SIGALRM``, so it interrupts pure-Python sympy loops. Limits nest: an
    enclosing limit is re-armed with its remaining time on exit. Outside the
    main thread the block runs unbounded and the worker's hard kill is the limit.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def _alarm(_signum: int, _frame: Any) -> None:
        raise TimeUp

    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, max(min(seconds, outer or seconds), 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


@dataclass
class Context:
    """Symbols and assumption relations for one claim."""

    domain: str
    table: SymbolTable
    assumptions: list[Any] = field(default_factory=list)

    @classmethod
    def build(
        cls, variables: Sequence[str] | None, assumptions: Sequence[str], domain: str
    ) -> Context:
        """Parse the assumptions and give simple sign conditions to the symbols."""
        base = {"real": {"real": True}, "integer": {"integer": True}}.get(domain, {})
        plain = SymbolTable(variables, base=base)
        flags: dict[str, dict[str, bool]] = {}
        for text in assumptions:
            relation = parse_sympy(text, plain)
            if not isinstance(relation, sympy.Rel):
                raise ParseError(f"assumption {text!r} is not a comparison")
            lhs, rhs = relation.lhs, relation.rhs
            flag = _SIGN_FLAGS.get(type(relation))
            if flag and isinstance(lhs, sympy.Symbol) and rhs == 0:
                flags.setdefault(lhs.name, {})[flag] = True
            elif flag and isinstance(rhs, sympy.Symbol) and lhs == 0:
                flags.setdefault(rhs.name, {})[_MIRROR[flag]] = True
        table = SymbolTable(variables, base=base, flags=flags)
        relations = [parse_sympy(text, table) for text in assumptions]
        return cls(domain, table, relations)

    def parse(self, text: str) -> Any:
        """Parse ``text`` with this claim's symbols."""
        return parse_sympy(text, self.table)

    def holds(self, point: dict[Any, Any]) -> bool:
        """Whether every assumption is true at ``point`` (undecidable counts as false)."""
        for relation in self.assumptions:
            try:
                value = relation.xreplace(point)
                if value not in (sympy.true, sympy.false):
                    value = value.doit()
            except (TypeError, ValueError, ArithmeticError):
                return False
            if value is not sympy.true:
                return False
        return True


def _sample(
    symbol: sympy.Symbol, position: int, domain: str, rng: random.Random, index: int
) -> Any:
    nice = _NICE[(index + position) % len(_NICE)]
    if domain == "integer" or symbol.is_integer:
        value: Any = nice if index < 4 and nice.is_integer else sympy.Integer(rng.randint(-12, 12))
    elif index < len(_NICE):
        value = nice
    else:
        value = sympy.Rational(rng.randint(-60, 60), rng.randint(1, 7))
    if domain == "complex" and not symbol.is_real and index >= 2:
        value += sympy.I * sympy.Rational(rng.randint(-9, 9), rng.randint(1, 4))
    if symbol.is_positive or symbol.is_nonnegative:
        value = abs(value) + (1 if symbol.is_positive and value == 0 else 0)
    elif symbol.is_negative or symbol.is_nonpositive:
        value = -abs(value) - (1 if symbol.is_negative and value == 0 else 0)
    if symbol.is_nonzero and value == 0:
        value = sympy.Integer(1)
    return value


def sample_points(
    symbols: Sequence[sympy.Symbol], context: Context, count: int, *, seed: int = 0
) -> Iterator[dict[Any, Any]]:
    """Up to ``count`` points satisfying the assumptions: nice values first, then random."""
    rng = random.Random(seed)
    produced = 0
    for index in range(count * 4):
        point = {s: _sample(s, i, context.domain, rng, index) for i, s in enumerate(symbols)}
        if context.holds(point):
            produced += 1
            yield point
            if produced >= count:
                return


def numeric(value: Any, prec: int = 30) -> complex | None:
    """``value`` as a complex number, or ``None`` where it is undefined or not a number."""
    try:
        if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            return None
        result = complex(sympy.N(value, prec))
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return None
    if result != result or abs(result) == float("inf"):
        return None
    return result


def differs(a: Any, b: Any) -> bool:
    """Whether two closed-form numbers are certainly different.

    Exact when their difference is rational; otherwise the difference must be
    clearly nonzero, and agree, at 30 and at 60 digits.
    """
    diff = a - b
    if diff.is_Rational:
        return bool(diff != 0)
    values = []
    for prec, tol in ((30, 1e-20), (60, 1e-45)):
        d, left, right = numeric(diff, prec), numeric(a, prec), numeric(b, prec)
        if d is None or left is None or right is None:
            return False
        if abs(d) <= tol * (1 + abs(left) + abs(right)):
            return False
        values.append(d)
    return abs(values[0] - values[1]) <= 1e-6 * abs(values[1])


def is_zero(value: Any) -> bool | None:
    """Whether a closed-form number is zero: exactly if sympy can tell, else numerically.

    ``None`` when the value is undefined there.
    """
    if numeric(value) is None:
        return None
    if value == 0:
        return True
    if value.is_zero is not None:
        return bool(value.is_zero)
    return not differs(value, sympy.Integer(0))


def fmt(value: Any) -> str:
    """A short readable form: exact when short, else 12 significant digits."""
    text = str(sympy.sstr(value))
    if len(text) <= 40 and "RootOf" not in text:
        return text
    number = numeric(value)
    if number is None:
        return text[:40] + "…"
    if abs(number.imag) < 1e-15:
        return f"{number.real:.12g}"
    return f"{number.real:.12g}{number.imag:+.12g}*I"


def fmt_point(point: dict[Any, Any]) -> dict[str, str]:
    """A point as ``{name: value}`` strings, sorted by name."""
    return {str(k): fmt(v) for k, v in sorted(point.items(), key=lambda kv: str(kv[0]))}
