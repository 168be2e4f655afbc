"""z3 checks: premises ⟹ conclusion over integer, real and boolean variables.

The claim is proved when premises ∧ ¬conclusion is unsatisfiable; a model of
it is a counterexample. z3's own timeout bounds the search; the worker
process bounds everything else.
"""

from __future__ import annotations

from typing import Any

import z3

from .safe_parse import ParseError, parse_z3
from .verdict import Verdict

__all__ = ["check_smt"]

_SORTS = {"Int": z3.Int, "Real": z3.Real, "Bool": z3.Bool}


def _formula(text: str, variables: dict[str, Any]) -> Any:
    term = parse_z3(text, variables)
    if not z3.is_bool(term):
        raise ParseError(f"{text!r} is a number, not a true/false statement")
    return term


def _value(model: Any, const: Any) -> str:
    value = model.eval(const, model_completion=True)
    if z3.is_rational_value(value) and value.denominator_as_long() != 1:
        return f"{value.numerator_as_long()}/{value.denominator_as_long()}"
    if z3.is_algebraic_value(value):
        return str(value.as_decimal(12)).rstrip("?") + "…"
    return str(value)


def _free_consts(term: Any) -> set[str]:
    if z3.is_const(term) and term.decl().kind() == z3.Z3_OP_UNINTERPRETED:
        return {str(term)}
    if z3.is_quantifier(term):
        return _free_consts(term.body())
    found: set[str] = set()
    for child in term.children():
        found |= _free_consts(child)
    return found


def _is_closed_exists(term: Any) -> bool:
    return bool(z3.is_quantifier(term) and term.is_exists() and not _free_consts(term))


def _check_exists(claim: Any, timeout_ms: int, seconds: float) -> Verdict:
    """A closed ∃-claim holds iff its body is satisfiable: look for a witness directly."""
    names = [claim.var_name(i) for i in range(claim.num_vars())]
    consts = [z3.Const(n, claim.var_sort(i)) for i, n in enumerate(names)]
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(z3.substitute_vars(claim.body(), *reversed(consts)))
    result = solver.check()
    if result == z3.sat:
        model = solver.model()
        witness = ", ".join(f"{n} = {_value(model, c)}" for n, c in zip(names, consts, strict=True))
        return Verdict("proved", "smt", f"z3 found a witness: {witness}.")
    if result == z3.unsat:
        return Verdict("refuted", "smt", "z3 shows that no values satisfy the statement.")
    return _unknown(solver, seconds)


def check_smt(claim: dict[str, Any], seconds: float) -> Verdict:
    """For all values of the variables, the premises imply the conclusion."""
    variables = {name: _SORTS[sort](name) for name, sort in claim["variables"].items()}
    premises = [_formula(t, variables) for t in claim.get("premises", [])]
    conclusion = _formula(claim["conclusion"], variables)
    timeout_ms = max(int(seconds * 1000), 1)

    if not premises and _is_closed_exists(conclusion):
        return _check_exists(conclusion, timeout_ms, seconds)
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(*premises)
    if premises and solver.check() == z3.unsat:
        return Verdict(
            "proved", "smt", "The premises contradict each other, so the claim holds vacuously."
        )
    solver.add(z3.Not(conclusion))
    result = solver.check()
    if result == z3.unsat:
        return Verdict(
            "proved",
            "smt",
            "z3 shows that no values satisfy the premises but violate the conclusion.",
        )
    if result == z3.sat:
        model = solver.model()
        free = {n: c for n, c in variables.items() if model.get_interp(c) is not None}
        point = {n: _value(model, c) for n, c in sorted((free or variables).items())}
        shown = ", ".join(f"{k} = {v}" for k, v in point.items())
        return Verdict(
            "refuted",
            "smt",
            f"Counterexample found by z3: with {shown} the premises hold but the conclusion "
            "is false.",
            counterexample=point,
        )
    return _unknown(solver, seconds)


def _unknown(solver: Any, seconds: float) -> Verdict:
    reason = solver.reason_unknown()
    if "timeout" in reason or "canceled" in reason:
        reason = f"timed out after {seconds:.3g} s"
    return Verdict(
        "unknown",
        "smt",
        f"z3 could not decide the claim ({reason}). Nonlinear integer arithmetic is "
        "undecidable in general; bounding the variables or splitting the claim may help.",
    )
