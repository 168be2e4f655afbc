"""Identities, solution sets and derivations, checked end to end through the worker process."""

from __future__ import annotations

from typing import Any

import pytest

from ponder.tools.proof import Verdict, check_proof


async def check(**claim: Any) -> Verdict:
    return await check_proof(claim, timeout_s=10)


# identity


async def test_binomial_square_is_proved() -> None:
    verdict = await check(kind="identity", lhs="(a+b)^2", rhs="a^2 + 2*a*b + b^2")
    assert verdict.status == "proved"
    assert verdict.counterexample is None


async def test_freshman_dream_is_refuted_at_a_point_with_both_values() -> None:
    verdict = await check(kind="identity", lhs="(a+b)^2", rhs="a^2 + b^2")
    assert verdict.status == "refuted"
    assert verdict.counterexample == {"a": "1", "b": "2"}
    assert "left side is 9" in verdict.explanation
    assert "right side is 5" in verdict.explanation


async def test_trig_identity_is_proved() -> None:
    verdict = await check(kind="identity", lhs="sin(x)**2 + cos(x)**2", rhs="1")
    assert verdict.status == "proved"


async def test_derivative_identity_is_proved() -> None:
    verdict = await check(kind="identity", lhs="diff(sin(x)**2, x)", rhs="sin(2*x)")
    assert verdict.status == "proved"


async def test_assumptions_decide_sqrt_of_square() -> None:
    refuted = await check(kind="identity", lhs="sqrt(x**2)", rhs="x")
    assert refuted.status == "refuted"
    assert refuted.counterexample == {"x": "-1"}
    proved = await check(kind="identity", lhs="sqrt(x**2)", rhs="x", assumptions=["x > 0"])
    assert proved.status == "proved"


async def test_tiny_exact_difference_is_caught() -> None:
    verdict = await check(kind="identity", lhs="x", rhs="x + 1e-12")
    assert verdict.status == "refuted"


async def test_cancelled_fraction_is_proved_with_domain_caveat() -> None:
    verdict = await check(kind="identity", lhs="(x**2 - 1)/(x - 1)", rhs="x + 1")
    assert verdict.status == "proved"
    assert "wherever both sides are defined" in verdict.explanation


async def test_log_rule_without_sign_assumption_is_unknown_with_a_hint() -> None:
    verdict = await check(kind="identity", lhs="log(x**2)", rhs="2*log(x)")
    assert verdict.status == "unknown"
    assert "not real" in verdict.explanation
    assert "assumption" in verdict.explanation


async def test_integer_domain_identity() -> None:
    verdict = await check(
        kind="identity", lhs="n*(n+1)/2", rhs="binomial(n+1, 2)", domain="integer"
    )
    assert verdict.status == "proved"


async def test_relation_where_expression_expected_is_a_parse_error() -> None:
    verdict = await check(kind="identity", lhs="x = 1", rhs="1")
    assert verdict.status == "unknown"
    assert "could not parse" in verdict.explanation


# solutions


async def test_quadratic_roots_are_proved() -> None:
    verdict = await check(kind="solutions", equations="x**2 - 5*x + 6 = 0", solutions=["2", "3"])
    assert verdict.status == "proved"


async def test_missing_root_is_named() -> None:
    verdict = await check(kind="solutions", equations="x**2 - 5*x + 6 = 0", solutions=[2])
    assert verdict.status == "refuted"
    assert verdict.counterexample == {"x": "3"}
    assert "x = 3 also solves it" in verdict.explanation


async def test_wrong_root_is_named_with_residual() -> None:
    verdict = await check(kind="solutions", equations="x^2 - 5*x + 6 = 0", solutions=["2", "4"])
    assert verdict.status == "refuted"
    assert verdict.counterexample == {"x": "4"}
    assert "gives 2" in verdict.explanation


async def test_extraneous_root_of_radical_equation() -> None:
    verdict = await check(kind="solutions", equations="sqrt(x) = x - 2", solutions=["4", "1"])
    assert verdict.status == "refuted"
    assert verdict.counterexample == {"x": "1"}


async def test_domain_decides_no_real_solution() -> None:
    real = await check(kind="solutions", equations="x**2 + 1 = 0", solutions=[])
    assert real.status == "proved"
    complex_ = await check(
        kind="solutions", equations="x**2 + 1 = 0", solutions=["I", "-I"], domain="complex"
    )
    assert complex_.status == "proved"


async def test_linear_system() -> None:
    good = await check(
        kind="solutions", equations=["x + y = 3", "x - y = 1"], solutions=[{"x": 2, "y": 1}]
    )
    assert good.status == "proved"
    bad = await check(
        kind="solutions", equations=["x + y = 3", "x - y = 1"], solutions=[{"x": 1, "y": 2}]
    )
    assert bad.status == "refuted"
    assert bad.counterexample == {"x": "1", "y": "2"}


async def test_infinite_solution_set_gives_a_concrete_missing_solution() -> None:
    verdict = await check(kind="solutions", equations="sin(x) = 0", solutions=["0", "pi"])
    assert verdict.status == "refuted"
    assert verdict.counterexample == {"x": "2*pi"}
    assert "infinite" in verdict.explanation


async def test_unsolvable_set_is_unknown() -> None:
    verdict = await check(kind="solutions", equations="x = cos(x)", solutions=[])
    assert verdict.status == "unknown"
    assert "completeness is unchecked" in verdict.explanation


async def test_integer_domain_filters_roots() -> None:
    verdict = await check(
        kind="solutions", equations="2*x**2 - 7*x + 6 = 0", solutions=["2"], domain="integer"
    )
    assert verdict.status == "proved"


# derivation


async def test_correct_equation_derivation_is_proved() -> None:
    verdict = await check(kind="derivation", steps=["2*x + 3 = 7", "2*x = 4", "x = 2"])
    assert verdict.status == "proved"


async def test_dropped_sign_is_flagged_at_step_3() -> None:
    verdict = await check(kind="derivation", steps=["-2*x + 3 = 7", "-2*x = 4", "x = 2"])
    assert verdict.status == "refuted"
    assert verdict.failed_step == 3
    assert verdict.counterexample == {"x": "-2"}
    assert "lost" in verdict.explanation


async def test_division_by_zero_is_flagged_at_step_3() -> None:
    verdict = await check(kind="derivation", steps=["x**2 = 3*x", "x**2 - 3*x = 0", "x = 3"])
    assert verdict.status == "refuted"
    assert verdict.failed_step == 3
    assert verdict.counterexample == {"x": "0"}
    assert "divides by x" in verdict.explanation


async def test_classic_two_equals_one_fallacy_fails_where_it_divides_by_zero() -> None:
    steps = [
        "a = b",
        "a**2 = a*b",
        "a**2 - b**2 = a*b - b**2",
        "(a+b)*(a-b) = b*(a-b)",
        "a + b = b",
        "2*b = b",
        "2 = 1",
    ]
    implication = await check(kind="derivation", steps=steps, relation="implication")
    assert implication.status == "refuted"
    assert implication.failed_step == 5
    assert "divides by a - b" in implication.explanation
    equivalence = await check(kind="derivation", steps=steps)
    assert equivalence.failed_step == 2
    assert "extraneous" in equivalence.explanation


async def test_squaring_is_an_implication_not_an_equivalence() -> None:
    steps = ["sqrt(x) = x - 2", "x = (x-2)**2", "x**2 - 5*x + 4 = 0"]
    assert (await check(kind="derivation", steps=steps, relation="implication")).status == "proved"
    strict = await check(kind="derivation", steps=steps)
    assert strict.status == "refuted"
    assert strict.failed_step == 2
    assert strict.counterexample == {"x": "1"}


async def test_positive_assumption_allows_taking_roots() -> None:
    steps = ["x**2 = 4", "x = 2"]
    assert (await check(kind="derivation", steps=steps)).failed_step == 2
    verdict = await check(kind="derivation", steps=steps, assumptions=["x > 0"])
    assert verdict.status == "proved"


async def test_expression_chain_flags_first_wrong_step() -> None:
    good = await check(kind="derivation", steps=["(x+1)**2 - 1", "x**2 + 2*x", "x*(x+2)"])
    assert good.status == "proved"
    bad = await check(
        kind="derivation", steps=["(x+1)**2 - 1", "x**2 + 2*x", "x*(x-2)", "x**2 - 2*x"]
    )
    assert bad.status == "refuted"
    assert bad.failed_step == 3
    assert bad.counterexample == {"x": "1"}


@pytest.mark.parametrize(
    ("steps", "message"),
    [(["x = 1", "x + 1"], "mix of equations"), (["x < 1", "x < 2"], "inequalities")],
)
async def test_malformed_derivations_are_unknown(steps: list[str], message: str) -> None:
    verdict = await check(kind="derivation", steps=steps)
    assert verdict.status == "unknown"
    assert message in verdict.explanation


def test_verdict_text_names_step_and_counterexample() -> None:
    text = Verdict(
        "refuted", "derivation", "Step 3 is wrong.", counterexample={"x": "0"}, failed_step=3
    ).to_text()
    assert text == (
        "REFUTED (derivation): first wrong step is step 3\nStep 3 is wrong.\nCounterexample: x = 0"
    )
