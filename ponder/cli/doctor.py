"""``ponder doctor``: probe the configured backend (the probes are in ``doctor_probe``)."""

from __future__ import annotations

import argparse
import os

from ponder.cli._common import add_backend_options

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ponder doctor``: the backend options."""
    add_backend_options(parser)


def main(args: argparse.Namespace) -> int:
    """Probe what ``ponder run`` would use, print the table, return the exit code.

    With no server configured that is the in-process local model, probed here.
    """
    from ponder.cli.doctor_probe import doctor_main

    api_key = args.api_key or os.environ.get("PONDER_API_KEY")
    local = not (args.base_url or api_key) and args.provider == "auto"
    return doctor_main(
        provider=args.provider,
        base_url=args.base_url,
        model=args.model,
        api_key=api_key,
        local=local,
    )
