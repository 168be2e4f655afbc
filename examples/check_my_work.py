"""Check my work: a flawed derivation gets its first wrong step flagged and explained.

Shows ponder's math tutor in ``check`` mode: each step of a student's work is
checked against the step before it by ``check_proof`` (sympy; deterministic,
no model decides a verdict), and the model explains only the first wrong step,
given the checker's counterexample.

Run against a real server (any OpenAI-compatible R1-class endpoint)::

    PONDER_BASE_URL=https://api.deepseek.com PONDER_MODEL=deepseek-v4-pro \\
    PONDER_API_KEY=sk-... python examples/check_my_work.py [path/to/work.txt]

or offline against a scripted fake model: ``python examples/check_my_work.py --fake``
(or ``PONDER_EXAMPLE_FAKE=1``). A work file has the problem in words, then one
step a line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from _fake import backend

from ponder.agents import FinalEvent
from ponder.agents.math_tutor import MathTutor, WorkCheck
from ponder.graphs import ToolCallEvent, ToolResultEvent
from ponder.testing import Turn

WORK = """Solve 2x + 3 = 7 for x.
1. 2x + 3 = 7
2. 2x = 10
3. x = 5
"""


def fake_model(body: dict[str, Any]) -> Turn:
    """The scripted model: it explains the step the checker flagged."""
    return Turn(
        reasoning="The student added 3 instead of subtracting it.",
        content=(
            "In step 2 you added 3 to the right-hand side instead of subtracting it: "
            "2x + 3 = 7 gives 2x = 7 - 3 = 4. The checker's counterexample x = 2 solves "
            "step 1 but not step 2. Redo it from there: 2x = 4, so x = 2."
        ),
    )


async def main(work: str) -> None:
    print(f"Student's work:\n{work.strip()}\n")
    async with backend(fake_model) as model, MathTutor(model, mode="check") as tutor:
        async for event in tutor.astream(work):
            if isinstance(event, ToolCallEvent):
                print(f"[tool call] {event.name} {json.dumps(event.arguments['claim']['steps'])}")
            elif isinstance(event, ToolResultEvent):
                print(f"[tool result] {event.output.splitlines()[0]}")
            elif isinstance(event, FinalEvent):
                answer = event.result.answer
                assert isinstance(answer, WorkCheck)
                print("Verdicts:")
                for step in answer.steps:
                    print(f"  step {step.step} ({step.text}): {step.status}")
                print(f"First wrong step: {answer.first_wrong_step}")
                print(f"Explanation: {answer.explanation}")


if __name__ == "__main__":
    paths = [a for a in sys.argv[1:] if a != "--fake"]
    asyncio.run(main(Path(paths[0]).read_text(encoding="utf-8") if paths else WORK))
