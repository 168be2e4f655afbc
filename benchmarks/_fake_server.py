"""The benchmarks' model: ponder's FakeModelServer in its own process, scripted per request.

Every conversation is the same: ``--steps`` turns that each stream reasoning
and one ``add`` tool call, then a turn that streams reasoning and the final
answer. The turn is chosen from the request itself (the number of tool
messages so far), so any number of concurrent conversations get the same
script. ``--stamp`` starts each reasoning text with ``t=<CLOCK_MONOTONIC ns>;``
taken as the turn is made, just before the response is written.

Prints ``READY <base_url>`` once serving; stops when its stdin closes.

    python benchmarks/_fake_server.py --steps 5 [--first-byte-delay 0.2] [--stamp]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ponder.testing import FakeModelServer, ToolCallSpec, Turn

REASONING = (
    "The user wants a running total. I add one to the last result with the tool, "
    "check that the number is what I expect, and carry on until the count is reached. "
) * 3
ANSWER = "The running total is complete: every step added one, and the final value is 5."


def make_script(args: argparse.Namespace) -> Any:
    """A script callable: a tool turn per step, then the answer turn."""

    def script(body: dict[str, Any]) -> Turn:
        step = sum(1 for message in body["messages"] if message.get("role") == "tool")
        reasoning = f"t={time.monotonic_ns()};{REASONING}" if args.stamp else REASONING
        common: dict[str, Any] = {
            "reasoning": reasoning,
            "chunk_chars": args.chunk_chars,
            "first_byte_delay_s": args.first_byte_delay,
        }
        if step < args.steps:
            return Turn(tool_calls=[ToolCallSpec("add", {"a": step, "b": 1})], **common)
        return Turn(content=ANSWER, **common)

    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="tool-calling turns before the answer")
    parser.add_argument("--first-byte-delay", type=float, default=0.0, help="seconds per call")
    parser.add_argument("--chunk-chars", type=int, default=16, help="characters per SSE chunk")
    parser.add_argument("--stamp", action="store_true", help="stamp the send time in reasoning")
    args = parser.parse_args()
    # The DeepSeek wire (reasoning_content), without its request rules: the
    # alternatives do not all replay reasoning_content the way DeepSeek V4 demands.
    with FakeModelServer(make_script(args), shape="deepseek", enforce_rules=False) as server:
        print(f"READY {server.base_url}", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
