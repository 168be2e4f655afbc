"""Model download: a loopback HTTP server stands in for the Hub; nothing leaves the machine."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from local.conftest import require_llama_cpp
from ponder.backends.local import (
    ENV_LOCAL_MODEL,
    LocalModelError,
    ModelFile,
    default_local_backend,
    ensure_model,
)

PAYLOAD = b"GGUF" + bytes(range(256)) * 4096  # ~1 MiB
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
MODEL = ModelFile(repo_id="acme/tiny-GGUF", filename="tiny.gguf", size_hint="1 MB")


class _Hub(http.server.BaseHTTPRequestHandler):
    body = PAYLOAD
    etag: str | None = DIGEST
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.paths.append(self.path)
        if self.path != "/acme/tiny-GGUF/resolve/main/tiny.gguf":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        if self.etag:
            self.send_header("X-Linked-Etag", f'"{self.etag}"')
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Hub]]:
    handler = type("Hub", (_Hub,), {"paths": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_downloads_once_with_progress_and_checks_the_hub_hash(
    hub: type[_Hub], tmp_path: Path
) -> None:
    progress = io.StringIO()
    path = ensure_model(MODEL, cache_dir=tmp_path, progress=progress)
    assert path == tmp_path / "acme--tiny-GGUF" / "tiny.gguf"
    assert path.read_bytes() == PAYLOAD
    assert "tiny.gguf [" in progress.getvalue() and "100%" in progress.getvalue()
    assert ensure_model(MODEL, cache_dir=tmp_path, progress=None) == path
    assert len(hub.paths) == 1  # cached: the second call did not download


def test_a_pinned_hash_that_does_not_match_keeps_nothing(hub: type[_Hub], tmp_path: Path) -> None:
    pinned = ModelFile(repo_id=MODEL.repo_id, filename=MODEL.filename, sha256="0" * 64)
    with pytest.raises(LocalModelError, match=r"corrupt: SHA-256 .* does not match"):
        ensure_model(pinned, cache_dir=tmp_path, progress=None)
    assert list((tmp_path / "acme--tiny-GGUF").iterdir()) == []


def test_a_corrupted_body_is_refused(hub: type[_Hub], tmp_path: Path) -> None:
    hub.body = PAYLOAD[:-1] + b"X"
    with pytest.raises(LocalModelError, match="corrupt"):
        ensure_model(MODEL, cache_dir=tmp_path, progress=None)
    assert not (tmp_path / "acme--tiny-GGUF" / "tiny.gguf").exists()


def test_no_hash_anywhere_is_refused(hub: type[_Hub], tmp_path: Path) -> None:
    hub.etag = None
    with pytest.raises(LocalModelError, match="refusing an unchecked download"):
        ensure_model(MODEL, cache_dir=tmp_path, progress=None)


def test_a_missing_file_names_the_local_override(hub: type[_Hub], tmp_path: Path) -> None:
    other = ModelFile(repo_id="acme/other", filename="x.gguf")
    with pytest.raises(LocalModelError, match=f"HTTP 404.*{ENV_LOCAL_MODEL}=/path/to/model.gguf"):
        ensure_model(other, cache_dir=tmp_path, progress=None)


def test_no_network_says_how_to_use_a_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(LocalModelError) as caught:
        ensure_model(MODEL, cache_dir=tmp_path, progress=None)
    message = str(caught.value)
    # the advice first, the technical detail last
    assert message.startswith(
        f"cannot download the local model ({MODEL.filename}, 1 MB): no network?"
    )
    assert message.index(f"Set {ENV_LOCAL_MODEL}=/path/to/model.gguf") < message.index(
        "ConnectError"
    )
    assert "PONDER_BASE_URL" in message


def test_bad_model_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="owner/name"):
        ModelFile(repo_id="no-slash", filename="a.gguf")
    with pytest.raises(ValueError, match="plain file name"):
        ModelFile(repo_id="a/b", filename="../etc/passwd")


def test_default_backend_names_the_env_var_for_a_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_llama_cpp()
    monkeypatch.setenv(ENV_LOCAL_MODEL, str(tmp_path / "absent.gguf"))
    with pytest.raises(LocalModelError, match=f"{ENV_LOCAL_MODEL}=.*is not a file"):
        default_local_backend()


def test_default_backend_uses_the_configured_file(
    smollm2_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_LOCAL_MODEL, str(smollm2_path))
    backend = default_local_backend()
    assert backend.model == smollm2_path.name
