"""Suite-wide rules: tests marked ``sandbox`` need bubblewrap.

Without it they skip with the reason, except under ``CI=true`` where they
fail: CI installs bubblewrap, so a skip there would hide the escape tests.
"""

from __future__ import annotations

import pytest
from capabilities import bubblewrap_missing, missing


@pytest.fixture(autouse=True)
def _sandbox_capability(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("sandbox") is None:
        return
    reason = bubblewrap_missing()
    if reason is not None:
        missing("the bubblewrap sandbox", reason)
