"""OpenTelemetry traces and metrics for ponder runs (the ``otel`` extra), reasoning left out.

Spans follow the GenAI semantic conventions: ``invoke_agent`` per run,
``chat`` per model call, ``execute_tool`` per tool call. Content capture is
off by default; reasoning capture is a second switch, off even with content
on. When tracing is off (no SDK provider installed, or ``enabled=False``)
every hook is a look-up and nothing from OpenTelemetry is imported.

Example::

    from ponder import telemetry

    telemetry.configure(capture_content=True)      # reasoning stays out
    shutdown = telemetry.setup_otlp()              # or install your own providers
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ponder.telemetry.settings import CONTENT_ENV, REASONING_ENV, TelemetrySettings, configure
from ponder.telemetry.settings import current as current_settings

if TYPE_CHECKING:
    from ponder.telemetry.jsonl import JsonLinesSpanExporter
    from ponder.telemetry.setup import setup_otlp, trace_to_file
    from ponder.telemetry.timeline import render_timeline

__all__ = [
    "CONTENT_ENV",
    "REASONING_ENV",
    "JsonLinesSpanExporter",
    "TelemetrySettings",
    "configure",
    "current_settings",
    "render_timeline",
    "setup_otlp",
    "trace_to_file",
]

_LAZY = {
    "JsonLinesSpanExporter": "ponder.telemetry.jsonl",
    "setup_otlp": "ponder.telemetry.setup",
    "trace_to_file": "ponder.telemetry.setup",
    "render_timeline": "ponder.telemetry.timeline",
}


def __getattr__(name: str) -> Any:
    """Import the parts that need the OpenTelemetry SDK or rich only when used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ponder.telemetry' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
