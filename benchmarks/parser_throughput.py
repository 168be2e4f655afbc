"""Throughput of the raw-text stream parsers (ThinkSplitter, R1ToolCallParser).

Builds a synthetic R1-0528 transcript (a long thought, then an answer with
many tool calls), feeds it in small chunks and prints MB/s (UTF-8 bytes) for
each parser alone and for the two chained as a client chains them.

    .venv/bin/python benchmarks/parser_throughput.py [--mb 5] [--chunk 16]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator

from ponder.backends.r1_tools import R1ToolCallParser
from ponder.backends.think import ThinkSplitter

_THOUGHT = "Let me check x < y and the </th edge; 17 * 23 = 391, so that works.\n"
_CALL = (
    "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
    '```json\n{"city": "Paris", "unit": "celsius"}\n```<｜tool▁call▁end｜>\n'
)
_ANSWER = "Here is what I found so far; calling the tool again.\n"


def _transcript(megabytes: float) -> str:
    half = int(megabytes * 1_000_000 / 2)
    thought = _THOUGHT * (half // len(_THOUGHT.encode()) + 1)
    answer = (_ANSWER + "<｜tool▁calls▁begin｜>" + _CALL * 3 + "<｜tool▁calls▁end｜>\n") * (
        half // len((_ANSWER + _CALL * 3).encode()) + 1
    )
    return f"<think>\n{thought}</think>\n\n{answer}<｜end▁of▁sentence｜>"


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
    print(f"{name:<34} {megabytes:6.2f} MB in {elapsed:6.2f} s = {megabytes / elapsed:7.2f} MB/s")


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


if __name__ == "__main__":
    main()
