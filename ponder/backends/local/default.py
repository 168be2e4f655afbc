"""``default_local_backend``: the model ``ponder`` runs when no server is configured."""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

from ponder.backends.local.download import (
    DEFAULT_MODEL,
    ENV_LOCAL_MODEL,
    LocalModelError,
    default_cache_dir,
)
from ponder.backends.protocol import ChatBackend

__all__ = ["default_local_backend"]


def default_local_backend(*, cache_dir: Path | None = None) -> ChatBackend:
    """An in-process llama.cpp backend for ``PONDER_LOCAL_MODEL`` or the default R1 distill.

    ``PONDER_LOCAL_MODEL`` names a GGUF file. Without it, the default model
    (DeepSeek-R1-Distill-Qwen-1.5B, Q4_K_M, about 1.1 GB) is used from the
    cache, downloaded there on first use; evaluated prompts are kept beside
    it (``prompts/``) so the next process skips the system prompt. Raises :class:`LocalModelError`
    when the ``[local]`` extra is missing or ``PONDER_LOCAL_MODEL`` names no file.
    """
    if find_spec("llama_cpp") is None:
        raise LocalModelError(
            "no model backend is configured and the local engine is not installed: "
            "pip install 'ponder[local]' (then set PONDER_LOCAL_MODEL=/path/to/model.gguf, "
            f"or let ponder download {DEFAULT_MODEL.filename}, {DEFAULT_MODEL.size_hint}), "
            "or set PONDER_BASE_URL and PONDER_MODEL for a model server"
        )
    from ponder.backends.local.llamacpp import LlamaCppBackend

    models = cache_dir or default_cache_dir()
    prompts = models.parent / "prompts"  # evaluated system prompts, for the next process
    configured = os.environ.get(ENV_LOCAL_MODEL, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise LocalModelError(
                f"{ENV_LOCAL_MODEL}={configured!r} is not a file; point it at a GGUF"
            )
        return LlamaCppBackend(path, prompt_cache=prompts)
    return LlamaCppBackend(model_file=DEFAULT_MODEL, cache_dir=models, prompt_cache=prompts)
