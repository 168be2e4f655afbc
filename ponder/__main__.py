"""``python -m ponder`` runs the ``ponder`` command."""

from ponder.cli import main

main()
