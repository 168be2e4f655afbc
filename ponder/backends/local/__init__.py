"""In-process model engines behind :class:`~ponder.backends.protocol.ChatBackend`.

- :class:`~ponder.backends.local.llamacpp.LlamaCppBackend` (``pip install 'ponder[local]'``):
  a GGUF file on CPU or GPU.
- :class:`~ponder.backends.local.transformers_backend.TransformersBackend`
  (``pip install 'ponder[gpu]'``): a Hugging Face model folder.
- :func:`default_local_backend`: ``PONDER_LOCAL_MODEL`` or the default R1 distill.

Both engines render the model's own chat template and stream its raw text
through the same think splitter and R1 tool-call parser as the HTTP backends.
Importing this package needs neither engine (nor jinja2); the engine modules do,
and ``TransformersBackend`` is imported from its module on first use.
"""

from typing import TYPE_CHECKING, Any

from ponder.backends.local.default import default_local_backend
from ponder.backends.local.download import (
    DEFAULT_MODEL,
    ENV_LOCAL_MODEL,
    LocalModelError,
    ModelFile,
    default_cache_dir,
    ensure_model,
)

if TYPE_CHECKING:
    from ponder.backends.local.transformers_backend import TransformersBackend

__all__ = [
    "DEFAULT_MODEL",
    "ENV_LOCAL_MODEL",
    "LocalModelError",
    "ModelFile",
    "TransformersBackend",
    "default_cache_dir",
    "default_local_backend",
    "ensure_model",
]


def __getattr__(name: str) -> Any:
    if name == "TransformersBackend":
        from ponder.backends.local.transformers_backend import TransformersBackend

        return TransformersBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
