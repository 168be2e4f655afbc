"""``ponder trace FILE``: print a ``--trace`` file as a readable timeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from ponder.cli._common import EXIT_NO_ANSWER, EXIT_OK, EXIT_USAGE, CliError

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ponder trace``."""
    parser.add_argument("file", type=Path, metavar="FILE", help="a file written by --trace")


def main(args: argparse.Namespace) -> int:
    """Print each run in the file; exit 1 when it holds no run."""
    from ponder.telemetry.timeline import load_spans, render_timeline

    try:
        spans = load_spans(args.file)
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}", EXIT_USAGE) from None
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if not render_timeline(spans):
        raise CliError(f"{args.file} holds no run's spans", EXIT_NO_ANSWER)
    return EXIT_OK
