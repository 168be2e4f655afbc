"""``ponder trace FILE``: a run's spans (JSON lines) as a timeline people can read.

One table per run: each model call with its tokens, latency and finish
reason, each tool call with its arguments (when they were captured) and
outcome, the retries, and the run's outcome, so one can see where the time
and the tokens went without a tracing backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["load_spans", "render_timeline"]

_ARGUMENT_CHARS = 80


def load_spans(path: str | Path) -> list[dict[str, Any]]:
    """The span records of a ``--trace`` file; raises ``ValueError`` for a line that is not one."""
    spans: list[dict[str, Any]] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not a JSON line ({exc.msg})") from None
        if not isinstance(record, dict) or not {"name", "span_id", "start_ns"} <= record.keys():
            raise ValueError(f"{path}:{number}: not a span record")
        spans.append(record)
    return spans


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.0f} ms" if ns < 10_000_000_000 else f"{ns / 1e9:,.1f} s"


def _short(value: Any, limit: int = _ARGUMENT_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tokens(attributes: dict[str, Any]) -> str:
    parts = [
        f"in {attributes.get('gen_ai.usage.input_tokens', '?')}",
        f"out {attributes.get('gen_ai.usage.output_tokens', '?')}",
    ]
    if "gen_ai.usage.reasoning.output_tokens" in attributes:
        parts.append(f"reasoning {attributes['gen_ai.usage.reasoning.output_tokens']}")
    return ", ".join(parts)


def _error(span: dict[str, Any]) -> str | None:
    attributes = span.get("attributes", {})
    if span.get("status", {}).get("code") != "ERROR":
        return None
    return str(attributes.get("error.type") or span["status"].get("description") or "error")


def _chat_row(span: dict[str, Any]) -> tuple[str, Text]:
    attributes = span.get("attributes", {})
    step = attributes.get("ponder.step", "?")
    details = Text(f"{_tokens(attributes)}")
    first = attributes.get("gen_ai.response.time_to_first_chunk")
    if isinstance(first, int | float):
        details.append(f" · first chunk {first * 1000:,.0f} ms")
    reasons = attributes.get("gen_ai.response.finish_reasons")
    if reasons:
        details.append(f" · {', '.join(reasons)}")
    if attributes.get("ponder.think_skipped"):
        details.append(" · skipped thinking", style="yellow")
    for event in span.get("events", []):
        if event.get("name") == "ponder.retry":
            retry = event.get("attributes", {})
            details.append(
                f"\n  retry {retry.get('ponder.retry.attempt')} after "
                f"{retry.get('ponder.retry.delay_s', 0):.2f} s",
                style="yellow",
            )
    if attributes.get("ponder.profile_corrected_fields"):
        fields = ", ".join(attributes["ponder.profile_corrected_fields"])
        details.append(f"\n  profile corrected: {fields}", style="yellow")
    error = _error(span)
    if error:
        details.append(f"\n  failed: {error}", style="red")
    return f"step {step} model", details


def _tool_row(span: dict[str, Any]) -> tuple[str, Text]:
    attributes = span.get("attributes", {})
    name = attributes.get("gen_ai.tool.name", span["name"])
    arguments = attributes.get("gen_ai.tool.call.arguments")
    shown = _short(arguments) if arguments is not None else "(arguments not captured)"
    details = Text(f"{name}({shown}) ")
    if attributes.get("ponder.tool.ok", _error(span) is None):
        details.append("✓ ok", style="green")
        result = attributes.get("gen_ai.tool.call.result")
        if result is not None:
            details.append(f" → {_short(result)}")
    else:
        details.append(f"✗ {attributes.get('error.type', 'error')}", style="red")
    return f"step {attributes.get('ponder.step', '?')} tool", details


def _run_table(run: dict[str, Any], children: list[dict[str, Any]]) -> Table:
    attributes = run.get("attributes", {})
    start = run["start_ns"]
    title = (
        f"{run['name']} · {attributes.get('gen_ai.request.model', '?')} "
        f"({attributes.get('gen_ai.provider.name', '?')}) · {_ms((run['end_ns'] or start) - start)}"
    )
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("at", justify="right", style="dim")
    table.add_column("took", justify="right")
    table.add_column("what")
    table.add_column("details")
    for span in sorted(children, key=lambda s: (s["start_ns"], s["name"])):
        operation = span.get("attributes", {}).get("gen_ai.operation.name")
        if operation == "chat":
            what, details = _chat_row(span)
        elif operation == "execute_tool":
            what, details = _tool_row(span)
        else:
            what, details = span["name"], Text("")
        took = (span.get("end_ns") or span["start_ns"]) - span["start_ns"]
        table.add_row(_ms(span["start_ns"] - start), _ms(took), what, details)
    outcome = attributes.get("ponder.outcome", "unfinished")
    summary = Text(f"{outcome}", style="green" if outcome == "answered" else "red")
    summary.append(
        f" · {attributes.get('ponder.steps', '?')} steps · "
        f"{attributes.get('ponder.tool_calls', 0)} tool calls · {_tokens(attributes)}"
    )
    retries = attributes.get("ponder.retries", 0) or 0
    json_retries = attributes.get("ponder.json_retries", 0) or 0
    if retries or json_retries:
        summary.append(f" · retries: {retries} transport, {json_retries} JSON", style="yellow")
    if attributes.get("ponder.budget"):
        summary.append(f" · ended by the {attributes['ponder.budget']} budget", style="red")
    if _error(run) and outcome not in ("answered",):
        summary.append(f" · {_error(run)}", style="red")
    table.caption = summary
    table.caption_justify = "left"
    return table


def render_timeline(spans: Iterable[dict[str, Any]], console: Console | None = None) -> int:
    """Print one table per run in ``spans``; returns how many runs were shown."""
    console = console or Console()
    records = list(spans)
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    for record in records:
        by_parent.setdefault(record.get("parent_id"), []).append(record)
    runs = [
        r for r in records if r.get("attributes", {}).get("gen_ai.operation.name") == "invoke_agent"
    ]
    for run in sorted(runs, key=lambda r: r["start_ns"]):
        console.print(_run_table(run, by_parent.get(run["span_id"], [])))
        console.print()
    return len(runs)
