"""Fuzz in the spirit of SGLang's: generated reply shapes across R1 tool tokens,
DSML V3.2 / V4 (fullwidth and ASCII bars) and inline or field reasoning, each
re-chunked at random. Zero markup may leak into the answer and zero calls may be
lost or duplicated; a call written inside the reasoning is never executed.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass

from ponder.backends.dsml_tools import encode_dsml_tool_calls
from ponder.backends.markers import WORD_JOINER
from ponder.backends.profiles import get_profile
from ponder.backends.types import ContentDelta
from ponder.backends.wire import Delta, ResponseAssembler

SHAPES = 400
CHUNKINGS = 3
_LEAKS = ("<think>", "</think>", "DSML", "tool▁call", "tool_call", "invoke name", "<｜", "<|")
_WORDS = ["x", "is", "4", "a<b", "c > d", "|", "(1)", "done", "\n"]


@dataclass(frozen=True)
class _Shape:
    reasoning: str
    in_field: bool
    text: str
    answer: str
    calls: list[tuple[str, dict[str, object]]]


def _r1(calls: list[tuple[str, dict[str, object]]], v31: bool) -> str:
    body = "\n".join(
        f"<｜tool▁call▁begin｜>{name}<｜tool▁sep｜>{json.dumps(args)}<｜tool▁call▁end｜>"
        if v31
        else f"<｜tool▁call▁begin｜>function<｜tool▁sep｜>{name}\n```json\n"
        f"{json.dumps(args)}\n```<｜tool▁call▁end｜>"
        for name, args in calls
    )
    return f"<｜tool▁calls▁begin｜>{body}<｜tool▁calls▁end｜>"


def _markup(rng: random.Random, calls: list[tuple[str, dict[str, object]]]) -> str:
    kind = rng.choice(["r1", "v31", "dsml32", "dsml4", "dsml4-ascii"])
    if kind in ("r1", "v31"):
        return _r1(calls, kind == "v31") + rng.choice(["", "<｜end▁of▁sentence｜>"])
    pairs = [(name, json.dumps(args)) for name, args in calls]
    text = encode_dsml_tool_calls(
        pairs, block="function_calls" if kind == "dsml32" else "tool_calls"
    )
    return text.replace("｜DSML｜", "|DSML|") if kind == "dsml4-ascii" else text


def _shape(rng: random.Random) -> _Shape:
    reasoning = "Think " + " ".join(rng.choices(_WORDS, k=rng.randint(1, 8)))
    answer = " ".join(rng.choices(_WORDS, k=rng.randint(0, 8))).strip()
    calls = [
        (rng.choice(["get_weather", "run_python", "f"]), {"k": rng.randint(0, 99), "s": "a b"})
        for _ in range(rng.randint(0, 3))
    ]
    if calls and rng.random() < 0.3:  # the same call written inside the thought first
        reasoning += " " + _markup(rng, calls)
    style = rng.choice(["field", "think", "distill", "none"])
    tools = _markup(rng, calls) if calls else ""
    body = answer + rng.choice(["\n\n", " ", ""]) + tools
    if style == "think":
        text = f"<think>\n{reasoning}\n</think>\n\n{body}"
    elif style == "distill":
        text = f"{reasoning}\n</think>\n\n{body}"
    else:
        text = body
    reasoning = reasoning if style != "none" else ""
    return _Shape(reasoning, style == "field", text, answer, calls)


def _pieces(rng: random.Random, text: str) -> list[str]:
    if rng.random() < 0.2 or len(text) < 2:
        return list(text)
    cuts = sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, rng.randint(0, 12))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def test_fuzzed_shapes_leak_no_markup_and_lose_no_call() -> None:
    rng = random.Random(20261202)
    profile = get_profile("openai-compatible")
    streams = leaks = lost = 0
    for _ in range(SHAPES):
        shape = _shape(rng)
        for _ in range(CHUNKINGS):
            streams += 1
            assembler = ResponseAssembler(profile, starts_in_thought=False, model="m")
            events = []
            if shape.in_field:
                for piece in _pieces(rng, shape.reasoning):
                    events += assembler.add(Delta(reasoning=piece))
            for piece in _pieces(rng, shape.text):
                events += assembler.add(Delta(content=piece))
            events += assembler.add(Delta(finish_reason="stop"))
            events += assembler.finish()
            done = assembler.completion()
            shown = "".join(e.text for e in events if isinstance(e, ContentDelta))
            assert shown == done.content
            if any(leak in shown for leak in _LEAKS):
                leaks += 1
            got = [(c.name, c.parsed) for c in done.tool_calls]
            if got != shape.calls:
                lost += 1
            assert shown.replace(WORD_JOINER, "") == shape.answer, shape
            assert done.finish_reason == ("tool_calls" if shape.calls else "stop")
    assert (streams, leaks, lost) == (SHAPES * CHUNKINGS, 0, 0)
