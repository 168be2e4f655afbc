"""How fast the ``ponder`` command starts: help, usage errors, and the first model request.

"first request" is the time from starting ``ponder run QUESTION`` (a fresh
process) to the first request reaching a loopback fake model, stamped by the
server on arrival, with the model's own latency taken out; the react agent
and the math tutor send it while the agent stack still imports
(``ponder/cli/early_request.py``). Its CPU time, read from ``/proc`` when the request
arrives, does not depend on what else the machine runs.

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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _first_request(env: dict[str, str], agent: str) -> tuple[float, float]:
    """(wall, CPU) seconds from start to the first request, the CPU read on its arrival."""
    seen: dict[str, float] = {}

    def reply(_request: object) -> Turn:
        seen.setdefault("cpu", _cpu_seconds(int(seen["pid"])))
        return Turn(content="ok")

    with FakeModelServer(reply, shape="vllm") as server:
        env = {**env, "PONDER_BASE_URL": server.base_url, "PONDER_MODEL": "r1"}
        started = time.time()
        child = subprocess.Popen(
            [sys.executable, "-m", "ponder", "run", "--agent", agent, "hi"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seen["pid"] = child.pid
        if child.wait() != 0:
            raise RuntimeError(f"ponder run --agent {agent} failed")
        return server.requests[0].received_at - started, seen["cpu"]


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
            pairs = [_first_request(env, agent) for _ in range(args.reps)]
            walls, cpus = [wall for wall, _ in pairs], [cpu for _, cpu in pairs]
            label = f"ponder run --agent {agent}: first request"
            rows.append([label, median_ms(walls), min(walls) * 1000])
            rows.append(["  CPU time until then", median_ms(cpus), min(cpus) * 1000])
    load = os.getloadavg()[0]
    print(f"ponder command start ({args.reps} runs each, {os.cpu_count()} CPUs, load {load:.1f})")
    print("CPU time is what the wall time would be on an idle machine (one thread busy).\n")
    print(table(["what", "median ms", "min ms"], rows))


if __name__ == "__main__":
    main()
