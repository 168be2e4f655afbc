"""Throughput of the raw-text stream parsers (ThinkSplitter, R1ToolCallParser, DSML).

Builds a synthetic R1-0528 transcript (a long thought, then an answer with
many tool calls) and the same with DeepSeek V4 DSML calls, feeds each in
small chunks and prints MB/s (UTF-8 bytes) for each parser alone, for the
chains a client runs, and for the whole ResponseAssembler content path.

    .venv/bin/python benchmarks/parser_throughput.py [--mb 5] [--chunk 16]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator

from ponder.backends.dsml_tools import DsmlToolCallParser
from ponder.backends.profiles import get_profile
from ponder.backends.r1_tools import R1ToolCallParser
from ponder.backends.think import ThinkSplitter
from ponder.backends.wire import Delta, ResponseAssembler

_THOUGHT = "Let me check x < y and the </th edge; 17 * 23 = 391, so that works.\n"
_CALL = (
    "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
    '```json\n{"city": "Paris", "unit": "celsius"}\n```<｜tool▁call▁end｜>\n'
)
_ANSWER = "Here is what I found so far; calling the tool again.\n"
_DSML_CALL = (
    '<｜DSML｜invoke name="get_weather">\n'
    '<｜DSML｜parameter name="city" string="true">Paris</｜DSML｜parameter>\n'
    '<｜DSML｜parameter name="unit" string="false">"celsius"</｜DSML｜parameter>\n'
    "</｜DSML｜invoke>\n"
)


def _transcript(megabytes: float) -> str:
    half = int(megabytes * 1_000_000 / 2)
    thought = _THOUGHT * (half // len(_THOUGHT.encode()) + 1)
    answer = (_ANSWER + "<｜tool▁calls▁begin｜>" + _CALL * 3 + "<｜tool▁calls▁end｜>\n") * (
        half // len((_ANSWER + _CALL * 3).encode()) + 1
    )
    return f"<think>\n{thought}</think>\n\n{answer}<｜end▁of▁sentence｜>"


def _dsml_transcript(megabytes: float) -> str:
    half = int(megabytes * 1_000_000 / 2)
    thought = _THOUGHT * (half // len(_THOUGHT.encode()) + 1)
    block = "<｜DSML｜tool_calls>\n" + _DSML_CALL * 3 + "</｜DSML｜tool_calls>\n"
    answer = (_ANSWER + block) * (half // len((_ANSWER + block).encode()) + 1)
    return f"<think>\n{thought}</think>\n\n{answer}"


def _chunks(text: str, size: int) -> Iterator[str]:
    return (text[i : i + size] for i in range(0, len(text), size))


def _think_only(text: str, size: int) -> None:
    splitter = ThinkSplitter()
    for chunk in _chunks(text, size):
        splitter.feed(chunk)
    splitter.flush()


def _tools_only(text: str, size: int) -> None:
    parser = R1ToolCallParser()
    for chunk in _chunks(text, size):
        parser.feed(chunk)
    parser.flush()


def _dsml_only(text: str, size: int) -> None:
    parser = DsmlToolCallParser()
    for chunk in _chunks(text, size):
        parser.feed(chunk)
    parser.flush()


def _assembler(text: str, size: int) -> None:
    assembler = ResponseAssembler(
        get_profile("openai-compatible"), starts_in_thought=False, model="m"
    )
    for chunk in _chunks(text, size):
        assembler.add(Delta(content=chunk))
    assembler.finish()


def _chained(text: str, size: int) -> None:
    splitter, parser = ThinkSplitter(), R1ToolCallParser()
    for chunk in _chunks(text, size):
        for channel, piece in splitter.feed(chunk):
            if channel == "content":
                parser.feed(piece)
    for channel, piece in splitter.flush():
        if channel == "content":
            parser.feed(piece)
    parser.flush()


def _measure(name: str, run: Callable[[str, int], None], text: str, size: int) -> None:
    megabytes = len(text.encode()) / 1_000_000
    start = time.perf_counter()
    run(text, size)
    elapsed = time.perf_counter() - start
    print(f"{name:<36} {megabytes:6.2f} MB in {elapsed:6.2f} s = {megabytes / elapsed:7.2f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0, help="transcript size in MB")
    parser.add_argument("--chunk", type=int, default=16, help="characters per feed() call")
    args = parser.parse_args()
    text = _transcript(args.mb)
    print(f"transcript: {len(text):,} characters, {args.chunk}-character chunks")
    _measure("ThinkSplitter", _think_only, text, args.chunk)
    _measure("R1ToolCallParser", _tools_only, text, args.chunk)
    _measure("ThinkSplitter -> R1ToolCallParser", _chained, text, args.chunk)
    _measure("ResponseAssembler (R1 transcript)", _assembler, text, args.chunk)
    dsml = _dsml_transcript(args.mb)
    _measure("DsmlToolCallParser", _dsml_only, dsml, args.chunk)
    _measure("ResponseAssembler (DSML transcript)", _assembler, dsml, args.chunk)


if __name__ == "__main__":
    main()
