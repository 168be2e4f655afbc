"""A fake reasoning-model server that speaks each provider's real wire, for tests.

Example::

    from ponder.testing import FakeModelServer, ToolCallSpec, Turn

    script = [
        Turn(reasoning="Need the time.", tool_calls=[ToolCallSpec("clock", {})]),
        Turn(reasoning="Got it.", content="It is noon."),
    ]
    with FakeModelServer(script, shape="deepseek") as server:
        ...  # point a client at server.base_url; inspect server.requests
"""

from ponder.testing.fake_server import FakeModelServer
from ponder.testing.script import RecordedRequest, Script, ToolCallSpec, Turn
from ponder.testing.shapes import SHAPE_NAMES

__all__ = ["SHAPE_NAMES", "FakeModelServer", "RecordedRequest", "Script", "ToolCallSpec", "Turn"]
