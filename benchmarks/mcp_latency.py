"""Added latency per MCP tool call: the same ``add`` tool native, over stdio and over HTTP.

Each call goes through ``ToolBox.run`` (JSON Schema validation, timeout,
output cap, framing), as in an agent's tool step. The MCP server is a Python
``MCPServer`` in its own process, connected once before timing; calls go
round-robin over the three so machine noise hits them alike. "Added" is the
median minus the native tool's median. Prints a Markdown section.

    python benchmarks/mcp_latency.py [--calls 200] [--warmup 10]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from _harness import BENCH_DIR, add, median_ms, p99_ms, table

from ponder.backends.types import ToolCall
from ponder.tools import ToolBox
from ponder.tools.mcp import HttpServer, McpToolset, StdioServer

SERVER = str(BENCH_DIR / "_mcp_server.py")


@contextmanager
def http_server() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, SERVER, "http"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the MCP HTTP server did not start (said {line!r})")
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def measure(calls: int, warmup: int) -> dict[str, list[float]]:
    with http_server() as url:
        servers = [
            StdioServer(sys.executable, (SERVER, "stdio"), name="stdio"),
            HttpServer(url, name="http"),
        ]
        async with McpToolset(servers) as mcp:
            box = ToolBox([add, *mcp.tools_loaded])
            names = {"native": "add", "MCP stdio": "stdio__add", "MCP HTTP": "http__add"}
            times: dict[str, list[float]] = {label: [] for label in names}
            for i in range(warmup + calls):
                for label, name in names.items():
                    call = ToolCall(id=str(i), name=name, arguments='{"a": 2, "b": 3}')
                    start = time.perf_counter()
                    result = await box.run(call)
                    elapsed = time.perf_counter() - start
                    if not result.ok or "5" not in result.output:
                        raise RuntimeError(f"{label}: unexpected result {result.output!r}")
                    if i >= warmup:
                        times[label].append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    times = asyncio.run(measure(args.calls, args.warmup))
    native = median_ms(times["native"])
    rows = [(label, median_ms(t), p99_ms(t), median_ms(t) - native) for label, t in times.items()]
    print(f"## 6. MCP tool calls (`mcp_latency.py`: {args.calls} calls each through `ToolBox.run`)")
    print(
        "\nThe same `add` tool native and on a Python `MCPServer` in its own process;\n"
        '"added" is the median minus the native median.\n'
    )
    print(table(["tool", "median ms", "p99 ms", "added vs native (median) ms"], rows))


if __name__ == "__main__":
    main()
