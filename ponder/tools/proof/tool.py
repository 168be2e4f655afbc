"""``check_proof`` as a model-callable :class:`~ponder.tools.Tool`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ponder.tools.base import Tool

from .checker import check_proof
from .claims import Claim

__all__ = ["CheckProofArgs", "check_proof_tool"]

_DESCRIPTION = (
    "Check a math claim before relying on it. Returns PROVED, REFUTED (with a counterexample, "
    "and for a derivation the first wrong step) or UNKNOWN (with the reason). Pass one claim: "
    "kind 'identity' (lhs = rhs for all values), 'solutions' (a proposed solution set is "
    "exactly right), 'derivation' (each step follows from the previous one), 'smt' (integer/"
    "real/boolean premises imply a conclusion, via z3) or 'lean' (a Lean 4 file). When "
    "REFUTED, fix the named step or value and check again."
)
_START_ALLOWANCE_S = 30.0


class CheckProofArgs(BaseModel):
    """The tool's arguments: one claim."""

    model_config = ConfigDict(extra="forbid")

    claim: Claim = Field(description="The claim to check; 'kind' selects which sort it is.")


def check_proof_tool(*, timeout_s: float = 10.0, lean_path: str | None = None) -> Tool:
    """The ``check_proof`` tool; ``timeout_s`` bounds each check, ``lean_path`` picks Lean.

    The tool's own timeout adds an allowance for starting a worker process the
    first time, so the checker's limit is the one that normally applies.
    """

    async def check(args: CheckProofArgs) -> str:
        verdict = await check_proof(args.claim, timeout_s=timeout_s, lean_path=lean_path)
        return verdict.to_text()

    return Tool.from_model(
        CheckProofArgs,
        check,
        name="check_proof",
        description=_DESCRIPTION,
        timeout_s=timeout_s + _START_ALLOWANCE_S,
    )
