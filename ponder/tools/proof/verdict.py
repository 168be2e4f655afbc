"""The result of a proof check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Status", "Verdict"]

Status = Literal["proved", "refuted", "unknown"]


@dataclass(frozen=True)
class Verdict:
    """What the checker concluded about a claim, and why.

    ``refuted`` means the claim is false and comes with a counterexample where
    one exists; ``unknown`` means neither a proof nor a counterexample was
    found (unparseable input and timeouts included). ``failed_step`` is the
    1-based index of the first wrong step of a derivation.
    """

    status: Status
    kind: str
    explanation: str
    counterexample: dict[str, str] | None = None
    failed_step: int | None = None

    def to_text(self) -> str:
        """Render the verdict as the text a model reads back."""
        head = f"{self.status.upper()} ({self.kind})"
        if self.failed_step is not None:
            head += f": first wrong step is step {self.failed_step}"
        lines = [head, self.explanation]
        if self.counterexample:
            point = ", ".join(f"{k} = {v}" for k, v in self.counterexample.items())
            lines.append(f"Counterexample: {point}")
        return "\n".join(lines)
