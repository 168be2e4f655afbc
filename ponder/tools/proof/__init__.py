"""The ``check_proof`` tool: algebra and calculus claims and derivations checked with
sympy, arithmetic/logic claims with z3, Lean 4 files with ``lean`` when present.

Model text is parsed by a whitelist ``ast`` walker (never ``eval``); sympy and z3
work runs in killable worker processes under a time limit.
"""

from ._errors import ParseError
from .checker import check_proof
from .claims import (
    Claim,
    DerivationClaim,
    IdentityClaim,
    LeanClaim,
    SmtClaim,
    SolutionsClaim,
)
from .lean import LEAN_ENV
from .tool import CheckProofArgs, check_proof_tool
from .verdict import Verdict

__all__ = [
    "LEAN_ENV",
    "CheckProofArgs",
    "Claim",
    "DerivationClaim",
    "IdentityClaim",
    "LeanClaim",
    "ParseError",
    "SmtClaim",
    "SolutionsClaim",
    "Verdict",
    "check_proof",
    "check_proof_tool",
]
