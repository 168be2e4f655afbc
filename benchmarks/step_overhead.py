"""Overhead per reason–act step: ponder against a raw httpx loop and the usual alternatives.

One fixed conversation (``--steps`` turns that each stream reasoning and one
``add`` tool call, then a streamed final answer) against a zero-latency fake
model in its own process. Every runner streams, runs the tool and sends the
tool result back, and is checked to end with the scripted answer. Runs go
round-robin over the runners so machine noise hits them alike; a step is one
model call (``steps + 1`` per run). Prints a Markdown section.

    .venv-bench/bin/python benchmarks/step_overhead.py [--steps 5] [--reps 100] [--profile ponder]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import warnings
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import httpx
from _fake_server import ANSWER, REASONING
from _harness import add, fake_model, median_ms, p99_ms, table

QUESTION = "Add one to the running total five times, then tell me the result."
MODEL = "fake-r1"
API_KEY = "sk-bench-not-a-real-key"

RunOnce = Callable[[], Awaitable[str]]
Close = Callable[[], Awaitable[None]]
Setup = Callable[[str, int], Awaitable[tuple[RunOnce, Close]]]


def _tool_result(arguments: str) -> str:
    return str(add(**json.loads(arguments)))


async def raw_httpx_runner(
    base_url: str, steps: int, limits: Any = None, http: ModuleType = httpx
) -> tuple[RunOnce, Close]:
    """The floor: a hand-written streaming tool loop on ``http`` (httpx or its fork httpx2).

    ``limits`` is the client's connection pool, httpx's default when ``None``.
    """
    client = http.AsyncClient(
        base_url=base_url,
        headers={"authorization": f"Bearer {API_KEY}"},
        timeout=http.Timeout(600.0, connect=10.0),
        **({} if limits is None else {"limits": limits}),
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two integers.",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                    "required": ["a", "b"],
                },
            },
        }
    ]

    async def run_once() -> str:
        messages: list[dict[str, Any]] = [{"role": "user", "content": QUESTION}]
        for _ in range(steps + 2):
            body = {"model": MODEL, "messages": messages, "tools": tools, "stream": True}
            reasoning: list[str] = []
            content: list[str] = []
            calls: dict[int, dict[str, str]] = {}
            async with client.stream("POST", "/chat/completions", json=body) as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    choices = json.loads(line[6:])["choices"]
                    if not choices:
                        continue
                    delta = choices[0]["delta"]
                    reasoning.append(delta.get("reasoning_content") or "")
                    content.append(delta.get("content") or "")
                    for call in delta.get("tool_calls") or ():
                        slot = calls.setdefault(call["index"], {"id": "", "name": "", "args": ""})
                        slot["id"] += call.get("id") or ""
                        function = call.get("function") or {}
                        slot["name"] += function.get("name") or ""
                        slot["args"] += function.get("arguments") or ""
            if not calls:
                return "".join(content)
            messages.append(
                {
                    "role": "assistant",
                    "content": "".join(content) or None,
                    "reasoning_content": "".join(reasoning),
                    "tool_calls": [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {"name": c["name"], "arguments": c["args"]},
                        }
                        for c in calls.values()
                    ],
                }
            )
            for c in calls.values():
                messages.append(
                    {"role": "tool", "tool_call_id": c["id"], "content": _tool_result(c["args"])}
                )
        raise RuntimeError("raw loop: no answer within the step limit")

    return run_once, client.aclose


async def ponder_runner(base_url: str, steps: int) -> tuple[RunOnce, Close]:
    """ponder's Agent with its default backend, consuming the event stream."""
    from ponder.agents import Agent, FinalEvent
    from ponder.backends import OpenAICompatibleBackend

    backend = OpenAICompatibleBackend(
        base_url=base_url, model=MODEL, api_key=API_KEY, profile="deepseek"
    )
    agent = Agent(backend, [add])

    async def run_once() -> str:
        answer = ""
        async for event in agent.astream(QUESTION):
            if isinstance(event, FinalEvent):
                answer = event.result.answer_text or ""
        return answer

    return run_once, backend.aclose


async def _langgraph(base_url: str, steps: int) -> tuple[RunOnce, Close]:
    from langchain_core.tools import tool as lc_tool
    from langchain_deepseek import ChatDeepSeek
    from langgraph.prebuilt import create_react_agent
    from pydantic import SecretStr

    model = ChatDeepSeek(model=MODEL, api_key=SecretStr(API_KEY), api_base=base_url, streaming=True)
    with warnings.catch_warnings():  # create_react_agent is deprecated in favour of langchain's
        warnings.simplefilter("ignore")
        graph = create_react_agent(model, [lc_tool(add)])

    async def run_once() -> str:
        state: dict[str, Any] = {}
        inputs = {"messages": [("user", QUESTION)]}
        async for mode, chunk in graph.astream(inputs, stream_mode=["messages", "values"]):
            if mode == "values" and isinstance(chunk, dict):
                state = chunk
        return str(state["messages"][-1].content)

    async def close() -> None:
        client = model.root_async_client
        if client is not None:
            await client.close()

    return run_once, close


async def _pydantic_ai(base_url: str, steps: int) -> tuple[RunOnce, Close]:
    from openai import AsyncOpenAI
    from pydantic_ai import Agent as PydanticAgent
    from pydantic_ai import AgentRunResultEvent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.profiles.deepseek import deepseek_model_profile
    from pydantic_ai.providers.openai import OpenAIProvider

    client = AsyncOpenAI(base_url=base_url, api_key=API_KEY)
    model = OpenAIChatModel(
        MODEL,
        provider=OpenAIProvider(openai_client=client),
        profile=deepseek_model_profile("deepseek-reasoner"),
    )
    agent = PydanticAgent(model, tools=[add])

    async def run_once() -> str:
        answer = ""
        async with agent.run_stream_events(QUESTION) as events:
            async for event in events:
                if isinstance(event, AgentRunResultEvent):
                    answer = str(event.result.output)
        return answer

    return run_once, client.close


async def _openai_agents(base_url: str, steps: int) -> tuple[RunOnce, Close]:
    from agents import Agent as SdkAgent
    from agents import OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    client = AsyncOpenAI(base_url=base_url, api_key=API_KEY)
    agent = SdkAgent(
        name="bench",
        model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client),
        tools=[function_tool(add)],
    )

    async def run_once() -> str:
        result = Runner.run_streamed(agent, QUESTION, max_turns=steps + 2)
        async for _ in result.stream_events():
            pass
        return str(result.final_output)

    return run_once, client.close


RUNNERS: dict[str, Setup] = {
    "raw": raw_httpx_runner,
    "ponder": ponder_runner,
    "langgraph": _langgraph,
    "pydantic-ai": _pydantic_ai,
    "openai-agents": _openai_agents,
}
LABELS = {
    "raw": "raw httpx loop (floor)",
    "ponder": "ponder Agent.astream",
    "langgraph": "LangGraph create_react_agent + ChatDeepSeek",
    "pydantic-ai": "pydantic-ai Agent.run_stream_events (OpenAIChatModel)",
    "openai-agents": "OpenAI Agents SDK Runner.run_streamed (OpenAIChatCompletionsModel)",
}


async def _measure(
    base_url: str, steps: int, reps: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Per-step times per runner, and why each runner that could not run failed."""
    ready: dict[str, tuple[RunOnce, Close]] = {}
    failed: dict[str, str] = {}
    for name, setup in RUNNERS.items():
        try:
            ready[name] = await setup(base_url, steps)
            for _ in range(warmup):
                answer = await ready[name][0]()
                if answer != ANSWER:
                    raise RuntimeError(f"wrong final answer {answer[:80]!r}")
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {str(exc)[:300]}"
            ready.pop(name, None)
    times: dict[str, list[float]] = {name: [] for name in ready}
    for _ in range(reps):
        for name, (run_once, _) in ready.items():
            started = time.perf_counter()
            answer = await run_once()
            times[name].append((time.perf_counter() - started) / (steps + 1))
            if answer != ANSWER:
                raise RuntimeError(f"{LABELS[name]}: wrong final answer {answer[:80]!r}")
    for _, close in ready.values():
        await close()
    return times, failed


async def _profile(base_url: str, steps: int, reps: int, name: str) -> None:
    from pyinstrument import Profiler

    run_once, close = await RUNNERS[name](base_url, steps)
    await run_once()
    profiler = Profiler(async_mode="enabled")
    with profiler:
        for _ in range(reps):
            await run_once()
    await close()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def _report(times: dict[str, list[float]], failed: dict[str, str], steps: int, reps: int) -> str:
    floor = median_ms(times["raw"]) if "raw" in times else float("nan")
    rows = [
        (LABELS[name], median_ms(v), p99_ms(v), f"{median_ms(v) / floor:.2f}x")
        for name, v in times.items()
    ]
    lines = [
        "## 1. Overhead per reason–act step (zero-latency model)",
        "",
        f"{steps} tool-calling steps + 1 answer step per run ({steps + 1} streamed completions, "
        f"each ~{len(REASONING)} characters of reasoning in 16-character chunks); "
        f"{reps} timed runs per runner after warm-up, round-robin. Time per step = run time / "
        f"{steps + 1}; p99 is over the {reps} runs.",
        "",
        table(["runner", "median ms/step", "p99 ms/step", "vs raw httpx"], rows),
    ]
    for name, why in failed.items():
        lines += ["", f"- **{LABELS[name]}** could not run the scenario: `{why}`"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="tool-calling steps per run")
    parser.add_argument("--reps", type=int, default=100, help="timed runs per runner")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per runner")
    parser.add_argument("--profile", choices=sorted(RUNNERS), help="pyinstrument one runner")
    args = parser.parse_args()
    with fake_model(steps=args.steps) as base_url:
        if args.profile:
            asyncio.run(_profile(base_url, args.steps, args.reps, args.profile))
            return
        times, failed = asyncio.run(_measure(base_url, args.steps, args.reps, args.warmup))
    print(_report(times, failed, args.steps, args.reps))


if __name__ == "__main__":
    main()
