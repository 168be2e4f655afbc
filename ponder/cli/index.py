"""``ponder index FOLDER``: add a folder of documents to the local search index."""

from __future__ import annotations

import argparse
from pathlib import Path

from ponder.cli._common import EXIT_OK, EXIT_USAGE, CliError

__all__ = ["add_arguments", "main"]


def add_arguments(index: argparse.ArgumentParser) -> None:
    """The options of ``ponder index``."""
    index.add_argument(
        "folder",
        type=Path,
        nargs="?",
        help="folder of documents to add (without it: build the default index of the Python "
        "docs, stdlib and sympy now, instead of on the first search)",
    )
    index.add_argument("--db", default=None, help="index file (default: the user data dir)")


def main(args: argparse.Namespace) -> int:
    """Index the folder and print what changed."""
    from ponder.tools.search import LocalIndex
    from ponder.tools.search.progress import ProgressBar

    index = LocalIndex(args.db) if args.db else LocalIndex.default()
    if args.folder is None:
        print(f"building the default search index in {index.path} …", flush=True)
        bar = ProgressBar.on_terminal("indexing")
        stats = index.index_default_corpus(progress=bar)
    elif not args.folder.is_dir():
        raise CliError(f"not a folder: {args.folder}", EXIT_USAGE)
    else:
        bar = ProgressBar.on_terminal("indexing")
        stats = index.index_folder(args.folder, progress=bar)
    if bar is not None:
        bar.finish()
    print(
        f"indexed {stats.files_indexed} files ({stats.files_unchanged} unchanged, "
        f"{stats.files_removed} removed), {stats.chunks} chunks in {stats.seconds:.1f} s"
    )
    return EXIT_OK
