"""ponder's metric instruments: the GenAI conventions' two histograms and four counters.

Attributes are low-cardinality names only (operation, provider, model, token
type, error kind, outcome); no content ever goes into a metric.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.metrics import MeterProvider, get_meter_provider

__all__ = ["Instruments", "instruments_for"]

_TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
_DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip


class Instruments:
    """The instruments of one meter provider."""

    def __init__(self, provider: MeterProvider) -> None:
        from ponder import __version__

        meter = provider.get_meter("ponder", __version__)
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.think_skips = meter.create_counter(
            "ponder.think_skips",
            unit="{call}",
            description="Model calls that answered without thinking first.",
        )
        self.tool_errors = meter.create_counter(
            "ponder.tool.errors",
            unit="{call}",
            description="Tool calls that failed, by kind (bad_json, invalid_arguments, ...).",
        )
        self.retries = meter.create_counter(
            "ponder.retries",
            unit="{retry}",
            description="Model requests sent again: transport retries and JSON-mode corrections.",
        )
        self.outcomes = meter.create_counter(
            "ponder.run.outcomes",
            unit="{run}",
            description="Finished runs by outcome (answered, or the budget that ended them).",
        )


_cache: dict[int, tuple[Any, Instruments]] = {}


def instruments_for(provider: MeterProvider | None) -> Instruments:
    """The instruments on ``provider`` (the global one when ``None``), made once."""
    chosen = provider if provider is not None else get_meter_provider()
    hit = _cache.get(id(chosen))
    if hit is None or hit[0] is not chosen:
        hit = (chosen, Instruments(chosen))
        _cache[id(chosen)] = hit
    return hit[1]
