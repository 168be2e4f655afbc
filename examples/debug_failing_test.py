"""Debug a failing test: reproduce it in a sandbox, diagnose, patch, re-test.

What it shows: the debugger agent copies ``examples/data/buggy_project`` (an
off-by-one in ``moving_average``) into a local bubblewrap sandbox, runs
``python -m unittest`` there to reproduce the failure, lets the model
diagnose with ``run_python``, applies the model's unified diff to the copy
and runs the tests again. It prints the root cause, the patch and the test
output before and after. Your files are never modified (pass ``--apply`` to
write a passing patch back into the project folder).

Run it against a real server (needs bubblewrap):

    PONDER_BASE_URL=http://localhost:8000/v1 PONDER_MODEL=deepseek-ai/DeepSeek-R1-0528 \\
        python examples/debug_failing_test.py [--project DIR] [--command "python -m unittest"]

or offline against a scripted fake model: ``python examples/debug_failing_test.py --fake``
(or ``PONDER_EXAMPLE_FAKE=1``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fake import backend

from ponder.agents import FinalEvent
from ponder.agents.debugger import build_debugger_agent
from ponder.graphs import Budgets, ToolCallEvent, ToolResultEvent
from ponder.graphs.debug import DebugReport
from ponder.testing import ToolCallSpec, Turn

PROJECT = Path(__file__).resolve().parent / "data" / "buggy_project"

FIX = """\
--- a/stats.py
+++ b/stats.py
@@ -8,5 +8,5 @@
     averages = []
-    for start in range(len(values) - window):
+    for start in range(len(values) - window + 1):
         chunk = values[start : start + window]
         averages.append(sum(chunk) / window)
     return averages
"""

ROOT_CAUSE = (
    "moving_average iterates over range(len(values) - window), which stops one window "
    "early: a list of n values has n - window + 1 windows, so the last window is never "
    "averaged (and a window as long as the list yields nothing)."
)


def _fake_script() -> list[Turn]:
    """What the scripted model does: check a hypothesis in the sandbox, then patch."""
    probe = "from stats import moving_average\nprint(moving_average([1, 2, 3, 4], 2))"
    return [
        Turn(
            reasoning="The last window is missing; let me confirm in the sandbox.",
            tool_calls=[ToolCallSpec("run_python", {"code": probe})],
        ),
        Turn(
            reasoning="Confirmed: one window short. The range bound is off by one.",
            content=json.dumps({"root_cause": ROOT_CAUSE, "patch": FIX}),
        ),
    ]


async def main(args: argparse.Namespace) -> int:
    async with backend(_fake_script()) as model:
        agent = build_debugger_agent(
            backend=model,
            project=args.project,
            command=args.command,
            apply=args.apply,
            budgets=Budgets(max_steps=8, wall_time_s=600),
            tools=[],
        )
        async with agent:
            report: Any = None
            async for event in agent.astream("The moving-average tests fail."):
                if isinstance(event, ToolCallEvent):
                    print(f"[tool call] {event.name}: {event.arguments}")
                elif isinstance(event, ToolResultEvent):
                    print(f"[tool result] {event.output.strip()}")
                elif isinstance(event, FinalEvent):
                    report = event.result.answer
                    print(f"[outcome] {event.result.outcome}")
    if not isinstance(report, DebugReport):
        print("The debugger gave no report.", file=sys.stderr)
        return 1
    print(report.to_text())
    return 0 if report.status == "fixed" else 1


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=PROJECT)
    parser.add_argument("--command", default="python -m unittest")
    parser.add_argument("--apply", action="store_true", help="write a passing patch back")
    parser.add_argument("--fake", action="store_true", help="use the scripted fake model")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(_args())))
