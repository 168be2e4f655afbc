"""Shared pieces of the telemetry tests: real SDK providers with in-memory exporters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ponder import telemetry
from ponder.backends import OllamaNativeBackend, OpenAICompatibleBackend
from ponder.testing import FakeModelServer

PROFILE_FOR_SHAPE = {"deepseek": "deepseek", "raw": "openai-compatible", "vllm": "vllm"}


@dataclass
class Otel:
    """In-memory span exporter and metric reader, installed as ponder's providers."""

    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def by_operation(self, operation: str) -> list[ReadableSpan]:
        return [
            s
            for s in self.finished()
            if (s.attributes or {}).get("gen_ai.operation.name") == operation
        ]

    def metric_points(self) -> dict[str, list[Any]]:
        data = self.metrics.get_metrics_data()
        out: dict[str, list[Any]] = {}
        if data is None:
            return out
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out

    def everything_exported(self) -> str:
        """Every span (attributes, events, status, links) and metric point as one text."""
        spans = [s.to_json() for s in self.finished()]
        data = self.metrics.get_metrics_data()
        metrics = data.to_json() if data is not None else ""
        return "\n".join(spans) + "\n" + metrics


def install(**settings: Any) -> Iterator[Otel]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry.configure(
        enabled=True, tracer_provider=tracer_provider, meter_provider=meter_provider, **settings
    )
    try:
        yield Otel(spans, reader, tracer_provider, meter_provider)
    finally:
        telemetry.configure()
        tracer_provider.shutdown()
        meter_provider.shutdown()


def backend_for(server: FakeModelServer, shape: str, **options: Any) -> Any:
    options.setdefault("model", "fake-r1")
    options.setdefault("backoff_initial_s", 0.01)
    options.setdefault("backoff_max_s", 0.02)
    if shape == "ollama-native":
        return OllamaNativeBackend(base_url=server.base_url, **options)
    options.setdefault("profile", PROFILE_FOR_SHAPE[shape])
    return OpenAICompatibleBackend(base_url=server.base_url, **options)


def attr(span: ReadableSpan, name: str) -> Any:
    return (span.attributes or {}).get(name)


def messages(span: ReadableSpan, name: str) -> list[dict[str, Any]]:
    value = attr(span, name)
    assert isinstance(value, str), f"{span.name} has no {name}"
    parsed: list[dict[str, Any]] = json.loads(value)
    return parsed
