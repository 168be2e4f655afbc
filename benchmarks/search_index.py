"""Measure the local search index on the offline default corpus.

Builds the default corpus into a temporary data dir (cold), re-syncs it
(nothing changed), and times queries end to end through ``LocalIndex.search``.

    python benchmarks/search_index.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from ponder.tools.search import LocalIndex

QUERIES = [
    "list comprehension",
    "json decode error",
    "context manager with statement",
    "sympy integrate definite integral",
    "sort dictionary by value",
    "regular expression groups",
    "asyncio gather tasks",
    "matrix determinant",
    'NEAR("quoted" AND (syntax*)) : title',
    "how do I read a file line by line",
]


async def _latencies(index: LocalIndex, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        for query in QUERIES:
            started = time.perf_counter()
            await index.search(query, k=5)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        index = LocalIndex.default(data_dir=data_dir)
        cold = index.index_default_corpus()
        warm = index.index_default_corpus()
        size_mb = Path(index.path).stat().st_size / 1e6
        with sqlite3.connect(index.path) as conn:
            (total_chunks,) = conn.execute("SELECT count(*) FROM chunks").fetchone()
        samples = asyncio.run(_latencies(index, args.repeats))
    quantiles = statistics.quantiles(samples, n=20)
    rows = [
        ("files indexed", f"{cold.files_indexed}"),
        ("chunks", f"{total_chunks}"),
        ("cold build", f"{cold.seconds:.2f} s"),
        ("re-sync, nothing changed", f"{warm.seconds:.2f} s"),
        ("database size", f"{size_mb:.1f} MB"),
        ("query latency p50", f"{statistics.median(samples):.2f} ms"),
        ("query latency p95", f"{quantiles[18]:.2f} ms"),
        ("queries timed", f"{len(samples)}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}} | value")
    print(f"{'-' * width}-|-{'-' * 12}")
    for name, value in rows:
        print(f"{name:<{width}} | {value}")


if __name__ == "__main__":
    main()
