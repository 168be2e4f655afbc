"""How fast the ``ponder`` command starts: help, usage errors, and the first model request.

"first request" is the time from starting ``ponder run QUESTION`` (a fresh
process) to the first request reaching a loopback fake model, stamped by the
server on arrival: imports, backend, memory, agent and graph setup, with the
model's own latency taken out.

Run: .venv/bin/python benchmarks/cli_startup.py [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import median_ms, table

from ponder.testing import FakeModelServer, Turn

COMMANDS = {
    "ponder --help": ["--help"],
    "ponder --version": ["--version"],
    "ponder run --help": ["run", "--help"],
    "ponder run (usage error)": ["run"],
}


def _ponder(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ponder", *args],
        env=env,
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - started


def _first_request(env: dict[str, str], agent: str) -> float:
    with FakeModelServer(lambda _: Turn(content="ok"), shape="vllm") as server:
        env = {**env, "PONDER_BASE_URL": server.base_url, "PONDER_MODEL": "r1"}
        started = time.time()
        subprocess.run(
            [sys.executable, "-m", "ponder", "run", "--agent", agent, "hi"],
            env=env,
            capture_output=True,
            check=True,
        )
        return server.requests[0].received_at - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
        env |= {
            "HOME": home,
            "XDG_DATA_HOME": f"{home}/data",
            "PONDER_MEMORY_URL": f"sqlite:///{home}/memory.db",
        }
        rows: list[list[object]] = []
        for label, argv in COMMANDS.items():
            times = [_ponder(argv, env) for _ in range(args.reps)]
            rows.append([label, median_ms(times), min(times) * 1000])
        for agent in ("react", "math-tutor"):
            times = [_first_request(env, agent) for _ in range(args.reps)]
            rows.append(
                [f"ponder run --agent {agent}: first request", median_ms(times), min(times) * 1000]
            )
    print(f"ponder command start ({args.reps} runs each, {os.cpu_count()} CPUs)\n")
    print(table(["what", "median ms", "min ms"], rows))


if __name__ == "__main__":
    main()
