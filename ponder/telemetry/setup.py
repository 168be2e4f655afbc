"""Exporters ponder sets up only when asked: OTLP (``--otel``) and a JSON-lines file (``--trace``).

Both give the providers to ponder alone (:func:`~ponder.telemetry.configure`),
not to the process-wide OpenTelemetry globals, and return a function that
flushes and shuts them down.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.telemetry.settings import configure, current

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

__all__ = ["setup_otlp", "trace_to_file"]


def _resource() -> Resource:
    from opentelemetry.sdk.resources import Resource

    defaults = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "ponder"}
    return Resource.create(defaults)


def setup_otlp() -> Callable[[], None]:
    """Traces and metrics over OTLP/HTTP, configured by the standard ``OTEL_EXPORTER_OTLP_*``
    environment variables (endpoint, headers, timeout, ...)."""
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise RuntimeError(
            "OpenTelemetry export needs the otel extra: pip install 'ponder[otel]'"
        ) from exc
    resource = _resource()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    previous = current()
    configure(enabled=True, tracer_provider=tracer_provider, meter_provider=meter_provider)

    def shutdown() -> None:
        tracer_provider.shutdown()
        meter_provider.shutdown()
        configure(**vars(previous))

    return shutdown


def trace_to_file(path: str | Path, *, capture_content: bool = True) -> Callable[[], None]:
    """Write this process's run spans to ``path`` as JSON lines (for ``ponder trace``).

    Content (messages, tool arguments and results) is captured by default; it
    is a local file the user asked for. Reasoning follows the settings (off).
    """
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        from ponder.telemetry.jsonl import JsonLinesSpanExporter
    except ImportError as exc:
        raise RuntimeError("--trace needs the otel extra: pip install 'ponder[otel]'") from exc
    provider = TracerProvider(resource=_resource())
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    previous = current()
    configure(enabled=True, tracer_provider=provider, capture_content=capture_content)

    def shutdown() -> None:
        provider.shutdown()
        configure(**vars(previous))

    return shutdown
