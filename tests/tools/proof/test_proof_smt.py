"""z3 claims: proofs, counterexamples, witnesses, and undecided (timed-out) claims."""

from __future__ import annotations

from typing import Any

from ponder.tools.proof import Verdict, check_proof


async def check(timeout_s: float = 10, **claim: Any) -> Verdict:
    return await check_proof({"kind": "smt", **claim}, timeout_s=timeout_s)


async def test_nonlinear_integer_claim_is_proved() -> None:
    verdict = await check(variables={"n": "Int"}, premises=["n > 2"], conclusion="n**2 > 2*n")
    assert verdict.status == "proved"


async def test_quantified_form_is_proved() -> None:
    verdict = await check(
        variables={"n": "Int"}, conclusion="ForAll([n], Implies(n > 2, n**2 > 2*n))"
    )
    assert verdict.status == "proved"


async def test_false_claim_gives_a_checkable_counterexample() -> None:
    verdict = await check(variables={"n": "Int"}, premises=["n >= 0"], conclusion="n**2 > 2*n")
    assert verdict.status == "refuted"
    assert verdict.counterexample is not None
    n = int(verdict.counterexample["n"])
    assert n >= 0 and not n**2 > 2 * n


async def test_bounded_fermat_cubes_have_no_solution() -> None:
    verdict = await check(
        variables={"x": "Int", "y": "Int", "z": "Int"},
        premises=["1 <= x <= 8", "1 <= y <= 8", "1 <= z <= 8"],
        conclusion="x**3 + y**3 != z**3",
    )
    assert verdict.status == "proved"


async def test_bounded_fermat_squares_have_a_counterexample() -> None:
    verdict = await check(
        variables={"x": "Int", "y": "Int", "z": "Int"},
        premises=["1 <= x <= 8", "1 <= y <= 8", "1 <= z <= 8"],
        conclusion="x**2 + y**2 != z**2",
    )
    assert verdict.status == "refuted"
    assert verdict.counterexample is not None
    x, y, z = (int(verdict.counterexample[k]) for k in "xyz")
    assert x**2 + y**2 == z**2


async def test_existential_claim_is_proved_with_a_witness() -> None:
    verdict = await check(
        variables={"x": "Int", "y": "Int", "z": "Int"},
        conclusion="Exists([x, y, z], And(x > 0, y > 0, z > 0, x**2 + y**2 == z**2))",
    )
    assert verdict.status == "proved"
    assert "witness" in verdict.explanation


async def test_false_existential_claim_is_refuted() -> None:
    verdict = await check(variables={"x": "Int"}, conclusion="Exists([x], And(x > 1, x < 2))")
    assert verdict.status == "refuted"


async def test_unbounded_fermat_cubes_are_unknown_within_the_time_limit() -> None:
    verdict = await check(
        timeout_s=1.5,
        variables={"x": "Int", "y": "Int", "z": "Int"},
        premises=["x >= 1", "y >= 1", "z >= 1"],
        conclusion="x**3 + y**3 != z**3",
    )
    assert verdict.status == "unknown"
    assert "could not decide" in verdict.explanation or "did not finish" in verdict.explanation


async def test_real_and_boolean_claims() -> None:
    square = await check(variables={"x": "Real"}, conclusion="x**2 - 2*x + 1 >= 0")
    assert square.status == "proved"
    irrational = await check(variables={"x": "Real"}, conclusion="x**2 != 2")
    assert irrational.status == "refuted"
    assert irrational.counterexample is not None
    assert irrational.counterexample["x"].lstrip("-").startswith("1.41421356")
    contrapositive = await check(
        variables={"p": "Bool", "q": "Bool"},
        conclusion="Implies(Implies(p, q), Implies(not q, not p))",
    )
    assert contrapositive.status == "proved"


async def test_contradictory_premises_are_reported_as_vacuous() -> None:
    verdict = await check(variables={"n": "Int"}, premises=["n > 0", "n < 0"], conclusion="n == 5")
    assert verdict.status == "proved"
    assert "vacuously" in verdict.explanation


async def test_exact_division_and_integer_remainder() -> None:
    half = await check(variables={"n": "Int"}, conclusion="n / 2 * 2 == n")
    assert half.status == "proved"
    parity = await check(variables={"n": "Int"}, conclusion="n % 2 == 0 or n % 2 == 1")
    assert parity.status == "proved"


async def test_number_as_conclusion_is_a_parse_error() -> None:
    verdict = await check(variables={"n": "Int"}, conclusion="n + 1")
    assert verdict.status == "unknown"
    assert "could not parse" in verdict.explanation
