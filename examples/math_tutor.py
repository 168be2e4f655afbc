"""Solve with verification, or give graded hints: the math tutor end to end.

Shows ponder's math tutor solving an equation with the reason–act loop, the
checker (``check_proof``) refuting a wrong solution set with a counterexample,
the model revising, and the final per-claim verdicts. ``--mode hints`` gives
graded hints instead of the solution (no hint but the last reveals the answer).

Run against a real server (any OpenAI-compatible R1-class endpoint)::

    PONDER_BASE_URL=https://api.deepseek.com PONDER_MODEL=deepseek-v4-pro \\
    PONDER_API_KEY=sk-... python examples/math_tutor.py [--mode hints] ["your problem"]

or offline against a scripted fake model: ``python examples/math_tutor.py --fake``
(or ``PONDER_EXAMPLE_FAKE=1``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from _fake import backend

from ponder.agents import FinalEvent
from ponder.agents.math_tutor import Hints, MathTutor, VerifiedSolution
from ponder.graphs import ToolCallEvent, ToolResultEvent
from ponder.testing import ToolCallSpec, Turn

PROBLEM = "Solve x**2 - 5*x + 6 = 0 for real x."


def fake_model(body: dict[str, Any]) -> Turn:
    """The scripted model: a wrong first answer, a checked revision, JSON extraction, hints."""
    messages = body["messages"]
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    last = messages[-1]
    if system.startswith("You extract"):
        wrong = "x = 4" in last["content"]
        values = ["2", "4"] if wrong else ["2", "3"]
        claims = {
            "final_values": values,
            "solution_set": {
                "equations": ["x**2 - 5*x + 6 = 0"],
                "variables": ["x"],
                "solutions": values,
            },
            "derivation": ["x**2 - 5*x + 6 = 0", f"(x - 2)*(x - {values[1]}) = 0"],
        }
        return Turn(reasoning="Copy the claims.", content=json.dumps(claims))
    if system.startswith("You are a math tutor who gives graded hints"):
        leak = "revealed the final answer" not in last["content"]
        second = "Try x = 2 in the equation." if leak else "Which two numbers multiply to 6?"
        hints = [
            "The left side is a quadratic: can you factor it?",
            second,
            "It factors as (x - 2)*(x - 3), so x = 2 or x = 3.",
        ]
        return Turn(reasoning="Grade the hints.", content=json.dumps({"hints": hints}))
    if last["role"] == "tool":
        return Turn(reasoning="The checker proved it.", content="x = 2 or x = 3.")
    if last["role"] == "user" and "refuted" in last["content"]:
        claim = {
            "kind": "solutions",
            "equations": "x**2 - 5*x + 6 = 0",
            "variables": ["x"],
            "solutions": ["2", "3"],
        }
        return Turn(
            reasoning="4 was wrong: 16 - 20 + 6 = 2. The roots multiply to 6: 2 and 3.",
            tool_calls=[ToolCallSpec("check_proof", {"claim": claim})],
        )
    return Turn(reasoning="Factor: roots 2 and 4?", content="x = 2 or x = 4.")


async def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--fake"]
    mode = "solve"
    if args[:1] == ["--mode"]:
        mode, args = args[1], args[2:]
    question = args[0] if args else PROBLEM
    print(f"Question: {question}\nMode: {mode}")
    async with backend(fake_model) as model, MathTutor(model, mode=mode) as tutor:  # type: ignore[arg-type]
        async for event in tutor.astream(question):
            if isinstance(event, ToolCallEvent):
                print(f"[tool call] {event.name} {json.dumps(event.arguments)}")
            elif isinstance(event, ToolResultEvent):
                print(f"[tool result] {event.output}")
            elif isinstance(event, FinalEvent):
                report(event.result.answer, event.result.answer_text, event.result.outcome)


def report(answer: Any, text: str | None, outcome: str) -> None:
    """Print the verdicts and the final answer (or hints)."""
    print(f"Outcome: {outcome}")
    checks = answer.checks if isinstance(answer, VerifiedSolution | Hints) else []
    print("Verdicts:")
    for check in checks:
        print(f"  {check.label}: {check.status} ({check.explanation})")
    if isinstance(answer, VerifiedSolution):
        print(f"Revisions: {answer.revisions}")
        print(f"Verified: {answer.verified}")
        print(f"Final answer: {text}")
    elif isinstance(answer, Hints):
        print(f"Hint rewrites: {answer.rewrites}, masked: {answer.masked}")
        for level, hint in enumerate(answer.levels, 1):
            print(f"Hint {level}: {hint}")


if __name__ == "__main__":
    asyncio.run(main())
