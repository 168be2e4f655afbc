"""Fetch a GGUF from a Hugging Face repo once, into a cache, checked by SHA-256.

Plain httpx, no ``huggingface_hub``: ``GET {endpoint}/{repo}/resolve/{revision}/{file}``
streamed into ``<file>.part`` with a progress bar on stderr, hashed while
it is written, renamed into place only when the hash matches. The expected
hash is the one pinned on :class:`ModelFile`, else the Hub's LFS object id
(``X-Linked-Etag``), which is the file's SHA-256. ``HF_ENDPOINT`` points the
download at a mirror. Without network the error says how to use a local file.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx
from platformdirs import user_cache_path

from ponder.backends.errors import BackendError

__all__ = [
    "DEFAULT_MODEL",
    "ENV_LOCAL_MODEL",
    "LocalModelError",
    "ModelFile",
    "cached_model_path",
    "default_cache_dir",
    "ensure_model",
    "sha256_file",
]

ENV_LOCAL_MODEL = "PONDER_LOCAL_MODEL"
_ENV_ENDPOINT = "HF_ENDPOINT"
_HUB = "https://huggingface.co"
_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LocalModelError(BackendError):
    """A local model cannot be used: engine missing, file absent, download failed."""


@dataclass(frozen=True)
class ModelFile:
    """One GGUF file in a Hugging Face repo."""

    repo_id: str
    filename: str
    revision: str = "main"
    sha256: str | None = None
    """Pinned SHA-256; ``None`` trusts the Hub's LFS object id instead."""
    size_hint: str = ""
    """Human-readable size for messages, e.g. ``"1.1 GB"``."""

    def __post_init__(self) -> None:
        if "/" not in self.repo_id or ".." in self.repo_id.split("/"):
            raise ValueError(f"repo_id must look like 'owner/name', got {self.repo_id!r}")
        if "/" in self.filename or "\\" in self.filename or self.filename.startswith("."):
            raise ValueError(f"filename must be a plain file name, got {self.filename!r}")
        if self.sha256 is not None and not _SHA256.match(self.sha256):
            raise ValueError("sha256 must be 64 lowercase hex digits")


DEFAULT_MODEL = ModelFile(
    repo_id="bartowski/DeepSeek-R1-Distill-Qwen-1.5B-GGUF",
    filename="DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf",
    size_hint="1.1 GB",
)
"""The model ``ponder run`` uses when nothing else is configured."""


def default_cache_dir() -> Path:
    """Where downloaded models live: the user cache dir's ``ponder/models``."""
    return user_cache_path("ponder") / "models"


def cached_model_path(model: ModelFile, *, cache_dir: Path | None = None) -> Path:
    """Where ``model`` lives in the cache once downloaded (it may not be there yet)."""
    return (cache_dir or default_cache_dir()) / model.repo_id.replace("/", "--") / model.filename


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_model(
    model: ModelFile,
    *,
    cache_dir: Path | None = None,
    progress: TextIO | None = sys.stderr,
    timeout: float = 30.0,
) -> Path:
    """The cached file for ``model``, downloading it first if needed.

    Raises :class:`LocalModelError` when the download fails or the hash
    does not match (the partial file is removed).
    """
    target = cached_model_path(model, cache_dir=cache_dir)
    if target.is_file():
        return target
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    endpoint = (os.environ.get(_ENV_ENDPOINT) or _HUB).rstrip("/")
    url = f"{endpoint}/{model.repo_id}/resolve/{model.revision}/{model.filename}"
    partial = target.with_name(target.name + ".part")
    try:
        _download(url, partial, model, progress=progress, timeout=timeout)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise LocalModelError(_unreachable(model, url, exc)) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return target


def _download(
    url: str, partial: Path, model: ModelFile, *, progress: TextIO | None, timeout: float
) -> None:
    with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as response:
        if response.status_code >= 400:
            raise LocalModelError(
                f"could not download {model.filename} from {model.repo_id}: HTTP "
                f"{response.status_code}. {_local_hint(model)}"
            )
        expected = model.sha256 or _hub_sha256(response)
        if expected is None:
            raise LocalModelError(
                f"{url} sent no SHA-256 (X-Linked-Etag) and none is pinned; refusing an "
                f"unchecked download. {_local_hint(model)}"
            )
        total = int(response.headers.get("content-length") or 0)
        digest = hashlib.sha256()
        bar = _ProgressBar(model.filename, total, progress)
        with partial.open("wb") as handle:
            for chunk in response.iter_bytes(_CHUNK):
                handle.write(chunk)
                digest.update(chunk)
                bar.advance(len(chunk))
        bar.done()
    actual = digest.hexdigest()
    if actual != expected:
        partial.unlink(missing_ok=True)
        raise LocalModelError(
            f"the download of {model.filename} is corrupt: SHA-256 {actual} does not match "
            f"the expected {expected}; nothing was kept. Try again, or {_local_hint(model)}"
        )


def _hub_sha256(response: httpx.Response) -> str | None:
    for name in ("x-linked-etag", "etag"):
        value: str = response.headers.get(name, "").strip().strip('"').removeprefix("W/").strip('"')
        if _SHA256.match(value):
            return value
    return None


def _local_hint(model: ModelFile) -> str:
    return (
        f"To use a model file you already have, set {ENV_LOCAL_MODEL}=/path/to/model.gguf "
        f"(for example {model.filename} fetched by hand from "
        f"https://huggingface.co/{model.repo_id})."
    )


def _unreachable(model: ModelFile, url: str, exc: httpx.HTTPError) -> str:
    size = f", {model.size_hint}" if model.size_hint else ""
    return (
        f"cannot download the local model ({model.filename}{size}): no network? "
        f"Set {ENV_LOCAL_MODEL}=/path/to/model.gguf to use a file you have, "
        "PONDER_BASE_URL and PONDER_MODEL for a model server, or PONDER_API_KEY with "
        f"--provider deepseek ({type(exc).__name__} from {url})"
    )


class _ProgressBar:
    """A one-line progress bar, redrawn at most every 0.2 s."""

    def __init__(self, name: str, total: int, out: TextIO | None) -> None:
        self._name, self._total, self._out = name, total, out
        self._done = 0
        self._last = 0.0

    def advance(self, size: int) -> None:
        self._done += size
        now = time.monotonic()
        if now - self._last >= 0.2:
            self._last = now
            self._draw()

    def done(self) -> None:
        self._draw()
        if self._out is not None:
            self._out.write("\n")
            self._out.flush()

    def _draw(self) -> None:
        if self._out is None:
            return
        mib = self._done / (1 << 20)
        if self._total:
            share = self._done / self._total
            filled = int(share * 30)
            line = f"{self._name} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} {mib:,.1f} MiB"
        else:
            line = f"{self._name} {mib:,.1f} MiB"
        self._out.write("\r" + line)
        self._out.flush()
