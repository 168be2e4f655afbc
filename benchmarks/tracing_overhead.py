"""What tracing costs per reason–act step: off, on with a no-op exporter, on with the in-memory one.

One fixed conversation (``--steps`` tool turns, then the answer) against the
zero-latency fake model in its own process, run by one ``Agent``. Modes go
round-robin so machine noise hits them alike; a step is one model call.

- ``untraced``: the floor. The hook calls in the graph and the agent are
  swapped for bare stand-ins (return ``None``/the writer), so no telemetry
  code runs at all.
- ``off``: ponder as shipped with no OpenTelemetry SDK provider installed
  (what a user without the ``otel`` extra, or with tracing off, gets).
- ``on, no-op exporter``: SDK tracer provider with a span exporter that drops
  everything, SDK meter provider (in-memory reader): all spans and metrics made.
- ``on, in-memory``: the SDK's in-memory span exporter; ``+ content`` also
  captures messages in the conventions' format (reasoning stays out).

Also prints the off-path hook calls alone, timed in a loop, as a share of a step.

    python benchmarks/tracing_overhead.py [--steps 5] [--reps 60] [--warmup 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import timeit
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from _fake_server import ANSWER
from _harness import add, fake_model, median_ms, p99_ms, table

QUESTION = "Add one to the running total five times, then tell me the result."
MODEL = "fake-r1"
API_KEY = "sk-bench-not-a-real-key"
MODES = ("untraced", "off", "on, no-op exporter", "on, in-memory", "on, in-memory + content")


class _NullChat:
    async def __aenter__(self) -> _NullChat:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def watch(self, writer: Callable[[Any], None]) -> Callable[[Any], None]:
        return writer

    def done(self, completion: object) -> None:
        return None


def _bare_hooks() -> SimpleNamespace:
    null = _NullChat()
    return SimpleNamespace(
        start_run=lambda *a: None,
        run_context=lambda run: None,
        finish_run=lambda *a: None,
        fail_run=lambda *a: None,
        chat=lambda *a: null,
        tool_clock=lambda: 0,
        tools_ran=lambda *a: None,
    )


def _modes() -> dict[str, Callable[[], None]]:
    """Mode name → a function that puts ponder in that mode."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import ponder.agents.agent as agent_module
    import ponder.graphs.react as react_module
    from ponder import telemetry
    from ponder.telemetry import hooks

    class NoOpExporter(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    bare = _bare_hooks()
    noop = TracerProvider()
    noop.add_span_processor(SimpleSpanProcessor(NoOpExporter()))
    memory_exporter = InMemorySpanExporter()
    memory = TracerProvider()
    memory.add_span_processor(SimpleSpanProcessor(memory_exporter))
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def use(hook_module: Any, **settings: Any) -> Callable[[], None]:
        def apply() -> None:
            react_module.telemetry = hook_module  # type: ignore[attr-defined]
            agent_module.telemetry = hook_module  # type: ignore[attr-defined]
            memory_exporter.clear()
            telemetry.configure(**settings)

        return apply

    on = {"enabled": True, "meter_provider": meters}
    return {
        "untraced": use(bare),
        "off": use(hooks),
        "on, no-op exporter": use(hooks, tracer_provider=noop, **on),
        "on, in-memory": use(hooks, tracer_provider=memory, **on),
        "on, in-memory + content": use(hooks, tracer_provider=memory, capture_content=True, **on),
    }


def _hook_cost_us(modes: dict[str, Callable[[], None]], name: str, steps: int) -> float:
    """The hooks' own work for one step in ``name`` mode, in microseconds.

    One step as the graph makes it: a ``chat`` span around a request the
    size of this conversation's, 40 stream events through ``watch``, the
    completion, then one tool call's ``execute_tool`` span. The run span is
    made once per ``steps + 1`` steps, as in a run.
    """
    from ponder.agents import RunResult
    from ponder.backends import OpenAICompatibleBackend
    from ponder.backends.types import (
        AssistantMessage,
        ChatRequest,
        Completion,
        ToolCall,
        ToolMessage,
        Usage,
        UserMessage,
    )
    from ponder.graphs import AnswerDelta, ReasoningEvent
    from ponder.telemetry import hooks
    from ponder.tools import ToolBox

    modes[name]()
    backend = OpenAICompatibleBackend(
        base_url="http://127.0.0.1:9/v1", model=MODEL, api_key=API_KEY, profile="deepseek"
    )
    call = ToolCall(id="call_1", name="add", arguments='{"a": 1, "b": 2}')
    history = [UserMessage(content=QUESTION)]
    for _ in range(steps):
        history += [
            AssistantMessage(tool_calls=(call,)),
            ToolMessage(tool_call_id="call_1", content="3"),
        ]
    request = ChatRequest(messages=tuple(history))
    completion = Completion(
        content="", tool_calls=(call,), finish_reason="tool_calls", usage=Usage(prompt_tokens=90)
    )
    events = [ReasoningEvent(step=1, text="think ")] * 30 + [AnswerDelta(step=1, text="ok ")] * 10
    [result] = asyncio.run(ToolBox([add]).run_all([call]))
    final = RunResult(
        answer="5", answer_text="5", thread_id="t", outcome="answered", tool_calls=[],
        usage=Usage(), steps=steps + 1, thinking_skipped=False, model=MODEL,
    )  # fmt: skip

    def sink(event: object) -> None:
        return None

    async def step() -> None:
        async with hooks.chat(request, 1) as span:
            watched = span.watch(sink)
            for event in events:
                watched(event)
            span.done(completion)
        hooks.tools_ran([result], hooks.tool_clock(), 1)

    def one_run() -> None:
        run = hooks.start_run(object(), backend, "t", QUESTION)
        context = hooks.run_context(run)
        for _ in range(steps + 1):
            coro = step()
            with contextlib.suppress(StopIteration):  # nothing here awaits: one send runs it
                if context is None:
                    coro.send(None)
                else:
                    context.run(coro.send, None)
        hooks.finish_run(run, final, {})

    number = 200
    best = min(timeit.repeat(one_run, number=number, repeat=5))
    return best / (number * (steps + 1)) * 1e6


async def measure(steps: int, reps: int, warmup: int) -> dict[str, list[float]]:
    from ponder.agents import Agent, FinalEvent
    from ponder.backends import OpenAICompatibleBackend

    modes = _modes()
    times: dict[str, list[float]] = {name: [] for name in MODES}
    with fake_model(steps=steps) as base_url:
        backend = OpenAICompatibleBackend(
            base_url=base_url, model=MODEL, api_key=API_KEY, profile="deepseek"
        )
        agent = Agent(backend, [add])
        try:
            for rep in range(warmup + reps):
                order = MODES[rep % len(MODES) :] + MODES[: rep % len(MODES)]
                for name in order:
                    modes[name]()
                    started = time.perf_counter()
                    answer = ""
                    async for event in agent.astream(QUESTION):
                        if isinstance(event, FinalEvent):
                            answer = event.result.answer_text or ""
                    elapsed = time.perf_counter() - started
                    if answer != ANSWER:
                        raise RuntimeError(f"{name}: unexpected answer {answer!r}")
                    if rep >= warmup:
                        times[name].append(elapsed / (steps + 1))
        finally:
            modes["off"]()
            from ponder import telemetry

            telemetry.configure()
            await backend.aclose()
    return times


def main() -> None:

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--reps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    times = asyncio.run(measure(args.steps, args.reps, args.warmup))
    floor = median_ms(times["untraced"])
    rows = [
        (name, median_ms(v), p99_ms(v), f"{(median_ms(v) / floor - 1) * 100:+.1f}%")
        for name, v in times.items()
    ]
    modes = _modes()
    hook_us = {name: _hook_cost_us(modes, name, args.steps) for name in MODES}
    modes["off"]()
    print("## Tracing overhead per step\n")
    print(
        f"{args.reps} timed runs per mode after {args.warmup} warm-up, round-robin, "
        f"{args.steps} tool steps + 1 answer per run (time per step = run time / "
        f"{args.steps + 1}).\n"
    )
    print(table(["mode", "median ms/step", "p99 ms/step", "vs untraced"], rows))
    step_us = floor * 1000
    hook_rows = [
        (name, f"{us:.1f}", f"{us / step_us * 100:.3f}%")
        for name, us in hook_us.items()
        if name != "untraced"
    ]
    print("\nThe telemetry hooks' own work per step, timed alone (best of 5), as a share of")
    print(f"the untraced step above ({floor:.2f} ms):\n")
    print(table(["mode", "µs/step", "share of a step"], hook_rows))


if __name__ == "__main__":
    main()
