"""``check_proof``: dispatch a claim to its checker under a time limit.

Lean runs as an async subprocess. Every other kind runs in a killable worker
process (:mod:`ponder.tools.proof.worker`): the child gets a soft deadline
(``SIGALRM``) a little before the parent's hard one, so a slow simplification
usually ends with an explanation rather than a kill.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import TypeAdapter

from .claims import Claim, LeanClaim
from .lean import LEAN_ENV, check_lean
from .verdict import Verdict
from .worker import JobFailed, JobTimeout, ProcessPool, default_pool

__all__ = ["LEAN_ENV", "check_proof", "run_claim"]

_SOFT_FRACTION = 0.85
_CLAIM: TypeAdapter[Claim] = TypeAdapter(Claim)


def _checks() -> dict[str, Callable[[dict[str, Any], float], Verdict]]:
    # sympy and z3 load here, in the worker, never in the process that asks
    from .algebra import check_derivation, check_identity, check_solutions
    from .smt import check_smt

    return {
        "identity": check_identity,
        "solutions": check_solutions,
        "derivation": check_derivation,
        "smt": check_smt,
    }


def run_claim(job: tuple[str, dict[str, Any], float]) -> Verdict:
    """Check one claim synchronously (the worker-process entry point)."""
    from .numeric import TimeUp, time_limit
    from .safe_parse import ParseError

    kind, data, seconds = job
    try:
        with time_limit(seconds):
            return _checks()[kind](data, seconds * _SOFT_FRACTION)
    except ParseError as exc:
        return Verdict("unknown", kind, f"could not parse: {exc}")
    except TimeUp:
        return Verdict("unknown", kind, f"The check did not finish within {seconds:g} s.")


async def check_proof(
    claim: Claim | Mapping[str, Any],
    *,
    timeout_s: float = 10.0,
    lean_path: str | None = None,
    pool: ProcessPool | None = None,
) -> Verdict:
    """Check a claim: ``proved``, ``refuted`` (with a counterexample) or ``unknown``.

    ``claim`` is a claim model or a dict of one (validated). ``lean_path``
    overrides how the Lean binary is found (see :mod:`ponder.tools.proof.lean`);
    ``pool`` replaces the shared worker pool.
    """
    if timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    parsed = _CLAIM.validate_python(claim) if isinstance(claim, Mapping) else claim
    if isinstance(parsed, LeanClaim):
        return await check_lean(parsed.source, timeout_s=timeout_s, lean_path=lean_path)
    job = (parsed.kind, parsed.model_dump(), timeout_s * _SOFT_FRACTION)
    try:
        result = await (pool or default_pool()).run(run_claim, job, timeout_s=timeout_s)
    except JobTimeout:
        return Verdict("unknown", parsed.kind, f"The check did not finish within {timeout_s:g} s.")
    except JobFailed as exc:
        return Verdict("unknown", parsed.kind, f"The checker failed: {exc}")
    if not isinstance(result, Verdict):
        raise TypeError(f"worker returned {type(result).__name__}, not a Verdict")
    return result
