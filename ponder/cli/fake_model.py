"""``ponder fake-model``: the loopback fake model, to try ponder offline."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ponder fake-model`` (those of ``python -m ponder.testing``)."""
    from ponder.testing.launcher import add_arguments as launcher_arguments

    launcher_arguments(parser)


def main(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C, after printing the PONDER_* settings that point at it."""
    from ponder.testing.launcher import run

    return run(args.port, args.shape, args.model, args.answer)
