"""A loopback fake of the E2B code interpreter's ``POST /execute`` (port 49999, NDJSON).

The SDK in debug mode (``E2B_DEBUG=true``) skips the control-plane API and
talks to ``http://localhost:49999/execute``; this server answers there, so
tests run the real SDK code path: request building, streaming, line parsing.
"""

from __future__ import annotations

import fcntl
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PORT = 49999
_LOCK = Path("/tmp/ponder-e2b-fake.lock")

Script = Callable[[str], list[dict[str, Any]]]


class FakeE2B:
    """Records request bodies; answers each with the lines ``script(code)`` returns."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.delay_s = 0.0


@contextmanager
def serve(script: Script) -> Iterator[FakeE2B]:
    """Run the fake on 127.0.0.1:49999, holding a file lock so only one test owns the port."""
    fake = FakeE2B(script)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            self.close_connection = True
            lines = fake.script(body["code"])
            payload = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
            try:
                time.sleep(fake.delay_s)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")  # no pooled socket outlives a test
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def log_message(self, *args: object) -> None:
            pass

    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield fake
        finally:
            server.shutdown()
            server.server_close()
