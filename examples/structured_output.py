"""JSON mode with a pydantic model: the answer comes back as a validated object.

Shows ``Agent(backend, response_schema=BugTriage)``: ponder asks the model for
JSON that fits the model's JSON Schema (the provider's json_schema or
json_object mode, whichever it supports), validates the reply locally, sends a
schema-violating reply back with the validation error for another try, and
returns a ``BugTriage`` instance as ``result.answer``. Reasoning streams
alongside and is never part of the answer.

Run against a real server (any OpenAI-compatible R1-class endpoint)::

    PONDER_BASE_URL=https://api.deepseek.com PONDER_MODEL=deepseek-v4-pro \\
    PONDER_API_KEY=sk-... python examples/structured_output.py ["a bug report"]

or offline against a scripted fake model: ``python examples/structured_output.py --fake``
(or ``PONDER_EXAMPLE_FAKE=1``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Literal

from _fake import backend
from pydantic import BaseModel, Field

from ponder.agents import Agent
from ponder.testing import Turn

REPORT = (
    "After upgrading to 2.3, saving a document with an emoji in its title crashes the app "
    "with UnicodeEncodeError on Windows. Linux and macOS are fine. Blocks our release."
)


class BugTriage(BaseModel):
    """What a triage bot files for one bug report."""

    title: str = Field(max_length=80, description="A short issue title.")
    component: Literal["editor", "storage", "sync", "ui", "other"]
    severity: int = Field(ge=1, le=4, description="1 = blocker … 4 = cosmetic.")
    platforms: list[Literal["windows", "linux", "macos"]] = Field(description="Where it happens.")
    next_step: str = Field(description="The first thing an engineer should do.")


def fake_model(body: dict[str, Any]) -> Turn:
    """The scripted model: first a severity the schema forbids, then a valid object."""
    last = body["messages"][-1]["content"]
    triage = {
        "title": "Crash saving a title with emoji on Windows (UnicodeEncodeError)",
        "component": "storage",
        "severity": 0,
        "platforms": ["windows"],
        "next_step": "Open the file with encoding='utf-8' instead of the locale default.",
    }
    if last.startswith("Your answer was rejected"):
        triage["severity"] = 1
    return Turn(reasoning="Blocks a release: a blocker.", content=json.dumps(triage))


async def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--fake"]
    report = args[0] if args else REPORT
    print(f"Report: {report}")
    async with backend(fake_model) as model:
        agent = Agent(model, response_schema=BugTriage)
        result = await agent.arun(f"Triage this bug report:\n\n{report}")
    print(f"Outcome: {result.outcome} after {result.steps} model call(s)")
    triage = result.answer
    if not isinstance(triage, BugTriage):
        print("No valid triage: the model's JSON never matched the schema.")
        return
    print(f"Validated {type(triage).__name__}:")
    print(f"  title:     {triage.title}")
    print(f"  component: {triage.component}")
    print(f"  severity:  {triage.severity}")
    print(f"  platforms: {', '.join(triage.platforms)}")
    print(f"  next step: {triage.next_step}")
    print(f"As JSON: {triage.model_dump_json()}")


if __name__ == "__main__":
    asyncio.run(main())
