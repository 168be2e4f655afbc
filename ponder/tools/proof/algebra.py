"""sympy checks: identities, solution sets and step-by-step derivations.

Each ``check_*`` function takes the claim as a plain dict plus a soft time
budget, and returns a :class:`Verdict`. They run inside a worker process;
counterexamples are searched numerically first (fast, and conclusive once
confirmed at two precisions), then a proof is attempted symbolically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import sympy
from sympy.logic.boolalg import BooleanAtom, BooleanFunction

from .numeric import (
    Context,
    TimeUp,
    differs,
    fmt,
    fmt_point,
    is_zero,
    numeric,
    sample_points,
    time_limit,
)
from .safe_parse import ParseError, SymbolTable, parse_sympy
from .verdict import Verdict

__all__ = ["check_derivation", "check_identity", "check_solutions"]

_POINTS = 24
_SETS = {"real": sympy.S.Reals, "complex": sympy.S.Complexes, "integer": sympy.S.Integers}
_SIMPLIFIERS: list[tuple[str, Callable[[Any], Any]]] = [
    ("expansion", sympy.expand),
    ("rational simplification", lambda e: sympy.cancel(sympy.together(e))),
    ("trigonometric simplification", sympy.trigsimp),
    ("simplification", sympy.simplify),
    ("expansion of functions", lambda e: sympy.simplify(sympy.expand(e, trig=True, log=True))),
    ("rewriting in exponentials", lambda e: sympy.simplify(e.rewrite(sympy.exp))),
]


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return max(self._end - time.monotonic(), 0.0)

    def share(self, parts: int) -> float:
        return self.left() / max(parts, 1)


def _is_relation(item: Any) -> bool:
    return isinstance(item, sympy.Rel | BooleanFunction | BooleanAtom)


def _symbols_of(*exprs: Any) -> list[sympy.Symbol]:
    found: set[sympy.Symbol] = set()
    for expr in exprs:
        found |= {s for s in expr.free_symbols if isinstance(s, sympy.Symbol)}
    return sorted(found, key=lambda s: s.name)


# ---------------------------------------------------------------------------
# expressions


def _counterexample(lhs: Any, rhs: Any, context: Context) -> tuple[dict[Any, Any] | None, str]:
    """A confirmed point where lhs != rhs, else ``None`` and a note on skipped points."""
    note = ""
    tested = 0
    for point in sample_points(_symbols_of(lhs, rhs), context, _POINTS):
        left, right = lhs.xreplace(point), rhs.xreplace(point)
        a, b = numeric(left), numeric(right)
        if a is None or b is None:
            continue
        if context.domain != "complex" and (abs(a.imag) > 1e-12 or abs(b.imag) > 1e-12):
            if not note and (abs(a.imag) > 1e-12) != (abs(b.imag) > 1e-12):
                side = "left" if abs(a.imag) > 1e-12 else "right"
                note = (
                    f" At {_point_text(point)} the {side} side is not real ({fmt(left)} vs "
                    f"{fmt(right)}); an assumption such as a sign condition may be missing."
                )
            continue
        tested += 1
        if differs(left, right):
            return point, ""
    return None, f" Equal at {tested} sampled points." + note


def _point_text(point: dict[Any, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in fmt_point(point).items()) or "(no variables)"


def _prove_zero(diff: Any, seconds: float) -> str | None:
    """The name of the rewrite that turns ``diff`` into 0 within ``seconds``, if any."""
    if diff == 0:
        return "direct evaluation"
    deadline = _Deadline(seconds)
    for name, rewrite in _SIMPLIFIERS:
        if deadline.left() <= 0:
            return None
        try:
            with time_limit(deadline.left()):
                if rewrite(diff) == 0:
                    return name
        except TimeUp:
            return None
        except (TypeError, ValueError, ArithmeticError, NotImplementedError, RecursionError):
            continue
    return None


def _compare(lhs: Any, rhs: Any, context: Context, seconds: float) -> Verdict:
    """Identity verdict for two parsed expressions (kind 'identity')."""
    point, note = _counterexample(lhs, rhs, context)
    if point is not None:
        left, right = lhs.xreplace(point), rhs.xreplace(point)
        return Verdict(
            "refuted",
            "identity",
            f"Not an identity: at {_point_text(point)} the left side is {fmt(left)} "
            f"but the right side is {fmt(right)}.",
            counterexample=fmt_point(point),
        )
    method = _prove_zero(lhs - rhs, seconds)
    if method is not None:
        caveat = ""
        if sympy.denom(sympy.together(lhs - rhs)).free_symbols:
            caveat = " (wherever both sides are defined)"
        return Verdict("proved", "identity", f"lhs - rhs reduces to 0 by {method}{caveat}.")
    return Verdict(
        "unknown",
        "identity",
        "No counterexample found and no symbolic proof within the time limit." + note,
    )


def _expressions(context: Context, texts: Sequence[str]) -> list[Any]:
    exprs = [context.parse(t) for t in texts]
    for text, expr in zip(texts, exprs, strict=True):
        if _is_relation(expr):
            raise ParseError(f"{text!r} is a relation; an expression was expected here")
    return exprs


def check_identity(claim: dict[str, Any], seconds: float) -> Verdict:
    """lhs = rhs for all values satisfying the assumptions."""
    context = Context.build(
        claim.get("variables"), claim.get("assumptions", []), claim.get("domain", "real")
    )
    lhs, rhs = _expressions(context, [claim["lhs"], claim["rhs"]])
    return _compare(lhs, rhs, context, seconds)


# ---------------------------------------------------------------------------
# equations and solution sets


def _as_zero_form(relation: Any, text: str) -> Any:
    """``lhs - rhs`` for an equation (an expression means expression = 0)."""
    if isinstance(relation, sympy.Eq):
        return relation.lhs - relation.rhs
    if _is_relation(relation):
        raise ParseError(f"{text!r} is not an equation (only '=' is supported here)")
    return relation


def _satisfies(forms: Sequence[Any], point: dict[Any, Any]) -> bool | None:
    """True/False if the point does/does not solve every equation; None if undecided."""
    verdicts = []
    for form in forms:
        value = form.xreplace(point)
        if numeric(value) is None:
            return False
        zero = is_zero(value)
        if zero is None:
            return None
        verdicts.append(zero)
    return all(verdicts)


def _in_domain(value: Any, domain: str) -> bool:
    if domain == "integer":
        return value.is_integer is not False
    if domain == "real":
        return value.is_real is not False
    return True


def _same(a: dict[Any, Any], b: dict[Any, Any]) -> bool:
    return all(not differs(a[k], b[k]) for k in a)


def _solution_set(
    forms: Sequence[Any], symbols: Sequence[sympy.Symbol], domain: str, seconds: float
) -> tuple[list[dict[Any, Any]] | None, Any]:
    """(finite list of solutions, None) or (None, the infinite/unknown set or None)."""
    try:
        with time_limit(seconds):
            if len(forms) == 1 and len(symbols) == 1:
                (symbol,) = symbols
                over = sympy.S.Reals if domain == "integer" else _SETS[domain]
                found = sympy.solveset(forms[0], symbol, over)
                if domain == "integer":
                    found = sympy.Intersection(found, sympy.S.Integers)
                if found is sympy.S.EmptySet:
                    return [], None
                if isinstance(found, sympy.FiniteSet):
                    return [{symbol: v} for v in found], None
                return None, found
            if not all(_is_rational(f, symbols) for f in forms):
                return None, None
            solved = sympy.solve(list(forms), list(symbols), dict=True)
    except TimeUp:
        return None, None
    except (NotImplementedError, ValueError, TypeError, ArithmeticError, RecursionError):
        return None, None
    if any(set(s) != set(symbols) or any(v.free_symbols for v in s.values()) for s in solved):
        return None, None
    return [s for s in solved if all(_in_domain(v, domain) for v in s.values())], None


def _is_rational(form: Any, symbols: Sequence[sympy.Symbol]) -> bool:
    numerator, denominator = sympy.fraction(sympy.together(form))
    return bool(numerator.is_polynomial(*symbols) and denominator.is_polynomial(*symbols))


def _elements(found: Any, limit: int = 12) -> list[Any]:
    """Some concrete members of an infinite solution set."""
    out: list[Any] = []
    if isinstance(found, sympy.Union):
        for part in found.args:
            out += _elements(part, limit // 2)
    elif isinstance(found, sympy.ImageSet) and len(found.lamda.variables) == 1:
        for n in (0, 1, -1, 2, -2, 3):
            out.append(found.lamda(sympy.Integer(n)))
    elif isinstance(found, sympy.Interval):
        low = found.start if found.start.is_finite else found.end - 2
        high = found.end if found.end.is_finite else low + 2
        for t in (sympy.Rational(1, 2), sympy.Rational(1, 3), sympy.Rational(3, 4)):
            out.append(low + (high - low) * t)
    elif found in (sympy.S.Reals, sympy.S.Complexes, sympy.S.Integers):
        out += [sympy.Integer(n) for n in (0, 1, -1, 2, 7)]
    elif isinstance(found, sympy.Complement | sympy.Intersection):
        out += [e for e in _elements(found.args[0], limit) if found.contains(e) is sympy.true]
    return out[:limit]


def _parse_values(claim: dict[str, Any], symbols: Sequence[sympy.Symbol]) -> list[dict[Any, Any]]:
    constants = SymbolTable([])
    by_name = {s.name: s for s in symbols}
    proposed = []
    for item in claim["solutions"]:
        if not isinstance(item, dict):
            if len(symbols) != 1:
                raise ParseError("with several unknowns, give each solution as {variable: value}")
            item = {symbols[0].name: item}
        if set(item) != set(by_name):
            raise ParseError(f"solution {item} must give a value for exactly: {', '.join(by_name)}")
        proposed.append({by_name[k]: parse_sympy(str(v), constants) for k, v in item.items()})
    return proposed


def check_solutions(claim: dict[str, Any], seconds: float) -> Verdict:
    """The proposed values are exactly the solutions of the equation(s)."""
    domain = claim.get("domain", "real")
    context = Context.build(claim.get("variables"), [], domain)
    texts = claim["equations"] if isinstance(claim["equations"], list) else [claim["equations"]]
    forms = [_as_zero_form(context.parse(t), t) for t in texts]
    symbols = (
        [context.table.symbol(n) for n in claim["variables"]]
        if claim.get("variables")
        else _symbols_of(*forms)
    )
    if not symbols:
        raise ParseError("the equations contain no unknowns")
    proposed = _parse_values(claim, symbols)
    for point in proposed:
        bad = [k for k, v in point.items() if not _in_domain(v, domain)]
        if bad:
            return Verdict(
                "refuted",
                "solutions",
                f"{_point_text(point)} is not in the domain ({domain}).",
                counterexample=fmt_point(point),
            )
        solves = _satisfies(forms, point)
        if solves is False:
            residuals = "; ".join(
                f"{t} gives {fmt(f.xreplace(point))} ≠ 0"
                if numeric(f.xreplace(point))
                else f"{t} is undefined there"
                for t, f in zip(texts, forms, strict=True)
                if not is_zero(f.xreplace(point))
            )
            return Verdict(
                "refuted",
                "solutions",
                f"{_point_text(point)} is not a solution: {residuals}.",
                counterexample=fmt_point(point),
            )
        if solves is None:
            return Verdict(
                "unknown", "solutions", f"Could not decide whether {_point_text(point)} solves it."
            )
    found, other = _solution_set(forms, symbols, domain, seconds)
    if found is None:
        for element in _elements(other) if other is not None else []:
            candidate = {symbols[0]: element}
            if not any(_same(candidate, p) for p in proposed) and _satisfies(forms, candidate):
                return Verdict(
                    "refuted",
                    "solutions",
                    f"Every proposed value solves it, but the solution set is infinite "
                    f"({fmt(other)}); for example {_point_text(candidate)} is missing.",
                    counterexample=fmt_point(candidate),
                )
        checked = "Every proposed value solves the equation(s), but the" if proposed else "The"
        return Verdict(
            "unknown",
            "solutions",
            f"{checked} complete solution set could not be computed (e.g. a transcendental "
            "equation), so completeness is unchecked.",
        )
    missing = [s for s in found if not any(_same(s, p) for p in proposed)]
    if missing:
        names = "; ".join(_point_text(m) for m in missing)
        return Verdict(
            "refuted",
            "solutions",
            f"Incomplete: {names} also solves it. The full solution set is "
            f"{{{'; '.join(_point_text(s) for s in found)}}}.",
            counterexample=fmt_point(missing[0]),
        )
    return Verdict(
        "proved",
        "solutions",
        f"Each proposed value solves the equation(s), and they are all the solutions "
        f"over the {domain} numbers.",
    )


# ---------------------------------------------------------------------------
# derivations


def _nonvanishing(q: Any) -> bool:
    return bool(q.is_nonzero and q.is_finite and (1 / q).is_finite)


def _equation_step(
    prev: Any, cur: Any, context: Context, relation: str, seconds: float
) -> tuple[str, str, dict[Any, Any] | None]:
    """('ok' | 'wrong' | 'unknown', explanation, counterexample) for one equation step."""
    try:
        with time_limit(seconds / 2):
            ratio = sympy.cancel(sympy.together(cur / prev)) if prev != 0 else None
    except (TimeUp, TypeError, ValueError, ArithmeticError, RecursionError):
        ratio = None
    if ratio is not None and ratio != 0:
        if not ratio.free_symbols or _nonvanishing(ratio):
            return "ok", "", None
        if relation == "implication" and sympy.denom(ratio).free_symbols == set():
            return "ok", "", None
    symbols = _symbols_of(prev, cur)
    if not symbols:
        return _constant_step(prev, cur)
    target, others = symbols[0], symbols[1:]
    slices = list(sample_points(others, context, 3)) if others else [{}]
    per_slice = seconds / (2 * max(len(slices), 1))
    for fixed in slices:
        sets = [
            _solution_set([f.xreplace(fixed)], [target], context.domain, per_slice)[0]
            for f in (prev, cur)
        ]
        if sets[0] is None or sets[1] is None:
            continue
        lost = [s for s in sets[0] if not any(_same(s, t) for t in sets[1])]
        gained = [s for s in sets[1] if not any(_same(s, t) for t in sets[0])]
        if lost:
            point = {**fixed, **lost[0]}
            return "wrong", _lost_text(point, ratio), point
        if gained and relation == "equivalence":
            point = {**fixed, **gained[0]}
            return (
                "wrong",
                f"{_point_text(point)} solves this step but not the previous one: an "
                "extraneous solution was introduced (e.g. by squaring, or multiplying by an "
                "expression that can be zero). Use relation='implication' if only "
                "consequences are intended.",
                point,
            )
        if not others:
            return "ok", "", None
    return "unknown", "could not compare the solution sets", None


def _lost_text(point: dict[Any, Any], ratio: Any) -> str:
    text = f"{_point_text(point)} solves the previous step but not this one: a solution was lost"
    divides = ratio is not None and not sympy.numer(ratio).free_symbols
    if divides and numeric(sympy.denom(ratio).xreplace(point)) == 0:
        text += f" (the step divides by {sympy.denom(ratio)}, which is 0 there)"
    return text + "."


def _constant_step(prev: Any, cur: Any) -> tuple[str, str, dict[Any, Any] | None]:
    a, b = is_zero(prev), is_zero(cur)
    if a is None or b is None:
        return "unknown", "could not evaluate the constant equations", None
    if a == b:
        return "ok", "", None
    return "wrong", f"the previous step is {'true' if a else 'false'} but this one is not", {}


def check_derivation(claim: dict[str, Any], seconds: float) -> Verdict:
    """Each step is equivalent to (or, for equations with 'implication', follows from) the last."""
    context = Context.build(
        claim.get("variables"), claim.get("assumptions", []), claim.get("domain", "real")
    )
    steps = claim["steps"]
    parsed = [context.parse(t) for t in steps]
    is_eq = [isinstance(p, sympy.Eq) for p in parsed]
    if any(is_eq) and not all(is_eq):
        raise ParseError("mix of equations and expressions; make every step the same kind")
    for text, item in zip(steps, parsed, strict=True):
        if not isinstance(item, sympy.Eq) and _is_relation(item):
            raise ParseError(f"step {text!r}: inequalities are not supported (use kind 'smt')")
    deadline = _Deadline(seconds)
    undecided: list[int] = []
    for index in range(1, len(parsed)):
        share = deadline.share(len(parsed) - index)
        if all(is_eq):
            prev, cur = (_as_zero_form(parsed[i], steps[i]) for i in (index - 1, index))
            outcome, text, point = _equation_step(
                prev, cur, context, claim.get("relation", "equivalence"), share
            )
            counterexample = fmt_point(point) if point else None
        else:
            verdict = _compare(parsed[index - 1], parsed[index], context, share)
            outcome = {"proved": "ok", "refuted": "wrong"}.get(verdict.status, "unknown")
            text = verdict.explanation.replace("left side", "previous step")
            text = text.replace("right side", "new step")
            counterexample = verdict.counterexample
        if outcome == "wrong":
            return Verdict(
                "refuted",
                "derivation",
                f"Step {index + 1} ({steps[index]}) does not follow from step {index} "
                f"({steps[index - 1]}): {text}",
                counterexample=counterexample,
                failed_step=index + 1,
            )
        if outcome == "unknown":
            undecided.append(index + 1)
    if undecided:
        return Verdict(
            "unknown",
            "derivation",
            f"No step is shown wrong, but step(s) {', '.join(map(str, undecided))} could not "
            "be verified within the time limit.",
        )
    what = "equal" if not all(is_eq) else "equivalent"
    if all(is_eq) and claim.get("relation", "equivalence") == "implication":
        what = "consequences of the previous ones"
    return Verdict("proved", "derivation", f"All {len(steps)} steps are {what}.")
