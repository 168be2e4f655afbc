"""``--otel`` and ``--trace FILE``: the exporters the CLI sets up only when asked."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ponder.cli._common import EXIT_USAGE, CliError

__all__ = ["add_telemetry_options", "telemetry_from"]


def add_telemetry_options(parser: argparse.ArgumentParser, *, trace_file: bool) -> None:
    """The telemetry options (``trace_file``: also ``--trace FILE``)."""
    parser.add_argument(
        "--otel",
        action="store_true",
        help="export traces and metrics over OTLP/HTTP, configured by the standard "
        "OTEL_EXPORTER_OTLP_* environment variables (needs ponder[otel])",
    )
    if trace_file:
        parser.add_argument(
            "--trace",
            type=Path,
            default=None,
            metavar="FILE",
            help="write the run's spans to FILE as JSON lines (content, never reasoning); "
            "read it with: ponder trace FILE",
        )


@contextmanager
def telemetry_from(args: argparse.Namespace) -> Iterator[None]:
    """Set up what the options ask for; flush and shut it down on the way out."""
    from ponder import telemetry

    stops = []
    try:
        if args.otel:
            stops.append(telemetry.setup_otlp())
        trace_path = getattr(args, "trace", None)
        if trace_path is not None:
            try:
                stops.append(telemetry.trace_to_file(trace_path))
            except OSError as exc:
                raise CliError(f"cannot write {trace_path}: {exc.strerror}", EXIT_USAGE) from None
    except RuntimeError as exc:  # the otel extra is missing
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        yield
    finally:
        for stop in reversed(stops):
            stop()
