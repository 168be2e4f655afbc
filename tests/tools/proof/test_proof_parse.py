"""The whitelist parser: what it builds, and that hostile input is refused fast, unexecuted."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sympy
import z3

from ponder.tools.proof.checker import check_proof
from ponder.tools.proof.safe_parse import ParseError, SymbolTable, parse_sympy, parse_z3

HOSTILE = [
    ("__import__('os')", "'__import__' is not allowed"),
    ("__import__('os').system('touch /tmp/pwned')", "attribute access"),
    ("x.__class__", "attribute access"),
    ("().__class__", "attribute access"),
    ("().__class__.__bases__[0]", "subscripts"),
    ("(lambda: 0)()", "not allowed"),
    ("9**9**9**9", "exceeds"),
    ("(" * 10_000 + "x" + ")" * 10_000, "characters long"),
    ("(" * 500 + "x" + ")" * 500, "nest 500 deep"),
    ("-" * 100 + "x", "nests deeper"),
    ("-" * 1_000 + "x", "syntax nodes"),
    ("x" * 1_000_000, "characters long"),
    ("[c for c in 'abc']", "comprehensions"),
    ("'a' * 3", "str literals"),
    ("x[0]", "subscripts"),
    ("open('/etc/passwd')", "function 'open' is not allowed"),
    ("eval('1')", "function 'eval' is not allowed"),
    ("factorial(10**6)", "factorial of a number above"),
    ("2**(10**5)", "exceeds"),
    ("1" * 60, "integer literal"),
    ("x if x else 1", "conditional"),
    ("sin(**x)", "keyword arguments"),
    ("2x + 1", "write products explicitly"),
]


REFUSAL_BOUND_S = 5.0
"""Wide on purpose (a loaded CI machine): what is shown is that nothing is evaluated, and
evaluating ``9**9**9**9`` never ends, and 10,000-deep nesting crashes a recursive parser."""


@pytest.mark.parametrize(("text", "reason"), HOSTILE)
def test_hostile_input_is_rejected_before_evaluation(text: str, reason: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ParseError, match=reason):
        parse_sympy(text, SymbolTable())
    assert time.perf_counter() - start < REFUSAL_BOUND_S


@pytest.mark.parametrize("text", [t for t, _ in HOSTILE[:8]])
def test_hostile_input_is_rejected_by_z3_parser(text: str) -> None:
    with pytest.raises(ParseError):
        parse_z3(text, {"x": z3.Int("x")})


async def test_hostile_input_gives_unknown_verdict(tmp_path: Any) -> None:
    marker = tmp_path / "pwned"
    verdict = await check_proof(
        {"kind": "identity", "lhs": f"__import__('os').system('touch {marker}')", "rhs": "0"}
    )
    assert verdict.status == "unknown"
    assert verdict.explanation.startswith("could not parse:")
    assert not marker.exists()


def test_builds_sympy_with_caret_constants_and_exact_decimals() -> None:
    table = SymbolTable()
    expr = parse_sympy("x^2 + 0.1*pi - e", table)
    x = table.symbols["x"]
    assert expr == x**2 + sympy.Rational(1, 10) * sympy.pi - sympy.E


def test_single_equals_is_an_equation_and_comparisons_stay_relations() -> None:
    table = SymbolTable()
    eq = parse_sympy("x**2 - 5*x + 6 = 0", table)
    assert isinstance(eq, sympy.Eq)
    assert isinstance(parse_sympy("x <= 2", table), sympy.Le)
    assert isinstance(parse_sympy("x != 2", table), sympy.Ne)


def test_declared_variables_reject_other_names() -> None:
    with pytest.raises(ParseError, match="unknown name 'y'"):
        parse_sympy("x + y", SymbolTable(["x"]))


def test_declared_e_is_a_variable_not_euler() -> None:
    table = SymbolTable(["e"])
    assert parse_sympy("e + 1", table) == table.symbols["e"] + 1


def test_calculus_functions() -> None:
    table = SymbolTable()
    x = sympy.Symbol("x")
    assert parse_sympy("diff(sin(x)**2, x)", table) == 2 * sympy.sin(x) * sympy.cos(x)
    assert parse_sympy("integrate(x, (x, 0, 2))", table) == 2
    assert parse_sympy("limit(sin(x)/x, x, 0)", table) == 1


def test_z3_builder_expands_powers_and_quantifiers() -> None:
    n, k = z3.Int("n"), z3.Int("k")
    formula = parse_z3("ForAll([k], Implies(k > 2, k^2 > 2*k)) and n % 2 == 0", {"n": n, "k": k})
    solver = z3.Solver()
    solver.add(formula, n == 4)
    assert solver.check() == z3.sat


def test_z3_rejects_symbolic_exponents_and_undeclared_names() -> None:
    n = z3.Int("n")
    with pytest.raises(ParseError, match="literal integer exponent"):
        parse_z3("2**n > n", {"n": n})
    with pytest.raises(ParseError, match="declare it"):
        parse_z3("m > 0", {"n": n})
