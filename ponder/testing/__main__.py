"""``python -m ponder.testing``: serve the fake model (see :mod:`ponder.testing.launcher`)."""

import sys

from ponder.testing.launcher import main

sys.exit(main())
