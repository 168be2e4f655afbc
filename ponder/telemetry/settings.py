"""What ponder's telemetry records, and whether it records at all.

Nothing here imports OpenTelemetry: deciding that tracing is off costs a
dictionary look-up. Tracing is on when :func:`configure` gave providers, or
when the application installed OpenTelemetry SDK providers globally (then
ponder's spans and metrics join whatever exporters the application set up).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["TelemetrySettings", "configure", "current"]

CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The GenAI conventions' opt-in for message content (``true`` turns it on)."""
REASONING_ENV = "PONDER_OTEL_CAPTURE_REASONING"
"""ponder's separate opt-in for reasoning text (needs content capture too)."""

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class TelemetrySettings:
    """ponder's telemetry switches.

    ``enabled``: ``None`` follows the global OpenTelemetry providers (on once
    an SDK provider is installed), ``False`` turns ponder's telemetry off,
    ``True`` turns it on with the global or the given providers.
    ``capture_content``: put messages, tool arguments and results on spans
    (off by default, as the GenAI conventions require). ``capture_reasoning``:
    also put the model's reasoning there; off unless asked, even with content
    on, and without content capture it has no effect.
    """

    enabled: bool | None = None
    capture_content: bool = False
    capture_reasoning: bool = False
    tracer_provider: Any = None
    meter_provider: Any = None

    @property
    def reasoning_captured(self) -> bool:
        return self.capture_content and self.capture_reasoning


def _from_env() -> TelemetrySettings:
    return TelemetrySettings(
        capture_content=os.environ.get(CONTENT_ENV, "").strip().lower() in _TRUE,
        capture_reasoning=os.environ.get(REASONING_ENV, "").strip().lower() in _TRUE,
    )


_settings: TelemetrySettings | None = None


def current() -> TelemetrySettings:
    """The settings in force (from the environment until :func:`configure` is called)."""
    global _settings
    if _settings is None:
        _settings = _from_env()
    return _settings


def configure(**changes: Any) -> TelemetrySettings:
    """Change some of the settings (fields of :class:`TelemetrySettings`); returns them all.

    ``configure()`` with no arguments resets to the environment's defaults.
    """
    global _settings
    _settings = replace(current(), **changes) if changes else _from_env()
    return _settings


def otel_loaded() -> bool:
    """Whether the application has imported OpenTelemetry's trace or metrics API."""
    return "opentelemetry.trace" in sys.modules or "opentelemetry.metrics" in sys.modules
