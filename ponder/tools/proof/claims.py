"""The claims the proof checker accepts: pydantic models, discriminated by ``kind``.

These models are also the tool's JSON Schema, so every field is described for
the model that fills them in.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Claim",
    "DerivationClaim",
    "Domain",
    "IdentityClaim",
    "LeanClaim",
    "SmtClaim",
    "SolutionsClaim",
]

Domain = Literal["real", "complex", "integer"]

_MATH = (
    "Python-syntax math: + - * / ** (or ^), explicit products (2*x, not 2x), functions sin cos "
    "tan exp log ln sqrt Abs factorial binomial floor ceiling gcd diff(f, x) integrate(f, x) "
    "integrate(f, (x, a, b)) limit(f, x, a) …; constants pi, E (or e), I, oo."
)
_VARIABLES = (
    "Names of the variables. When given, any other name is an error; when omitted, every "
    "unknown name is a variable."
)
_ASSUMPTIONS = (
    "Conditions the variables satisfy, e.g. ['x > 0', 'y != 0']. Simple sign conditions "
    "(x > 0, x >= 0, x < 0, x != 0) are also used symbolically."
)
_DOMAIN = "Where the variables range: 'real' (default), 'complex' or 'integer'."


class _Claim(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdentityClaim(_Claim):
    """lhs = rhs for every value of the variables (that satisfies the assumptions)."""

    kind: Literal["identity"] = Field(description="Always 'identity'.")
    lhs: str = Field(description=f"Left-hand side. {_MATH}", examples=["(a+b)**2"])
    rhs: str = Field(description="Right-hand side, same syntax.", examples=["a**2 + 2*a*b + b**2"])
    variables: list[str] | None = Field(default=None, description=_VARIABLES)
    assumptions: list[str] = Field(default_factory=list, description=_ASSUMPTIONS)
    domain: Domain = Field(default="real", description=_DOMAIN)


class SolutionsClaim(_Claim):
    """The proposed values are exactly the solutions of the equation(s)."""

    kind: Literal["solutions"] = Field(description="Always 'solutions'.")
    equations: str | list[str] = Field(
        description=(
            "One equation, or a list for a system, written with '=' (e.g. 'x**2 - 5*x + 6 = 0'); "
            f"an expression without '=' means expression = 0. {_MATH}"
        )
    )
    variables: list[str] | None = Field(
        default=None, description="The unknowns. Default: every name in the equations."
    )
    solutions: list[str | int | float | dict[str, str | int | float]] = Field(
        description=(
            "The complete proposed solution set. One unknown: a list of values, e.g. ['2', '3'] "
            "or ['(1 + sqrt(5))/2']. Several unknowns: a list of {variable: value} objects, "
            "e.g. [{'x': '1', 'y': '2'}]. An empty list claims there is no solution."
        )
    )
    domain: Domain = Field(default="real", description=_DOMAIN)


class DerivationClaim(_Claim):
    """Each step follows from the previous one."""

    kind: Literal["derivation"] = Field(description="Always 'derivation'.")
    steps: list[str] = Field(
        min_length=2,
        description=(
            "The steps in order: all expressions (each must equal the previous one as a "
            "function, e.g. ['(x**2-1)/(x-1)', 'x+1']) or all equations (each must have the "
            "same solutions as the previous one, e.g. ['2*x + 3 = 7', '2*x = 4', 'x = 2']). "
            f"{_MATH}"
        ),
    )
    variables: list[str] | None = Field(default=None, description=_VARIABLES)
    assumptions: list[str] = Field(default_factory=list, description=_ASSUMPTIONS)
    domain: Domain = Field(default="real", description=_DOMAIN)
    relation: Literal["equivalence", "implication"] = Field(
        default="equivalence",
        description=(
            "For equation steps: 'equivalence' (default) requires the same solution set at "
            "every step, as when solving an equation; 'implication' only requires every "
            "solution of a step to solve the next one, as in a proof by consequences."
        ),
    )


class SmtClaim(_Claim):
    """For all values of the variables, the premises imply the conclusion (checked by z3)."""

    kind: Literal["smt"] = Field(description="Always 'smt'.")
    variables: dict[str, Literal["Int", "Real", "Bool"]] = Field(
        description=(
            "Every name used, with its sort, e.g. {'n': 'Int'}. Variables bound by ForAll or "
            "Exists are declared here too."
        )
    )
    premises: list[str] = Field(
        default_factory=list, description="Hypotheses, e.g. ['n > 2']. May be empty."
    )
    conclusion: str = Field(
        description=(
            "What must follow, e.g. 'n**2 > 2*n'. Python syntax: + - * / // % ** (literal "
            "integer exponent), == != < <= > >=, and/or/not, True/False, Implies(a, b), "
            "And(..), Or(..), Not(a), Abs(x), ForAll([k], ...), Exists([k], ...). "
            "'/' is exact division; '//' and '%' are integer division and remainder."
        )
    )


class LeanClaim(_Claim):
    """A Lean 4 file whose theorems must check without errors or `sorry`."""

    kind: Literal["lean"] = Field(description="Always 'lean'.")
    source: str = Field(
        description="A complete Lean 4 source file (core Lean only; no Mathlib unless installed)."
    )


Claim = Annotated[
    IdentityClaim | SolutionsClaim | DerivationClaim | SmtClaim | LeanClaim,
    Field(discriminator="kind"),
]
