"""``make_backend``: one call from settings (arguments or environment) to a backend."""

from __future__ import annotations

import os
from typing import Any

from ponder.backends.client import OpenAICompatibleBackend
from ponder.backends.ollama_native import OllamaNativeBackend
from ponder.backends.profiles import PROFILE_NAMES, get_profile
from ponder.backends.protocol import ChatBackend

__all__ = [
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_MODEL",
    "ENV_PROVIDER",
    "PROVIDER_NAMES",
    "make_backend",
]

ENV_BASE_URL = "PONDER_BASE_URL"
ENV_MODEL = "PONDER_MODEL"
ENV_API_KEY = "PONDER_API_KEY"
ENV_PROVIDER = "PONDER_PROVIDER"

_NATIVE = "ollama-native"
PROVIDER_NAMES: tuple[str, ...] = (*PROFILE_NAMES, _NATIVE)
"""What ``make_backend(provider=…)`` accepts: the profiles and Ollama's native API."""


def make_backend(
    provider: str = "auto",
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    **opts: Any,
) -> ChatBackend:
    """A backend for ``provider`` (a profile name, ``"ollama-native"`` or ``"auto"``).

    Arguments left as ``None`` are read from ``PONDER_BASE_URL``,
    ``PONDER_MODEL`` and ``PONDER_API_KEY`` (and ``"auto"`` from
    ``PONDER_PROVIDER``). ``opts`` go to the backend's constructor (timeout,
    max_retries, http_client, …). Raises :class:`ValueError` when nothing
    says where the model is.
    """
    if provider == "auto":
        provider = os.environ.get(ENV_PROVIDER) or "auto"
    base_url = base_url or os.environ.get(ENV_BASE_URL) or None
    model = model or os.environ.get(ENV_MODEL) or None
    api_key = api_key or os.environ.get(ENV_API_KEY) or None
    if provider == _NATIVE:
        return OllamaNativeBackend(base_url=base_url, model=model, api_key=api_key, **opts)
    if provider not in PROFILE_NAMES:
        choices = ", ".join(PROVIDER_NAMES)
        raise ValueError(f"unknown provider {provider!r}; choose one of: {choices}")
    profile = get_profile(provider, base_url=base_url, model=model)
    if base_url is None and profile.default_base_url is None:
        raise ValueError(
            "no model backend is configured: pass base_url= and model= (or a provider such "
            f"as 'deepseek'), or set {ENV_BASE_URL} and {ENV_MODEL}"
        )
    if profile.needs_api_key and api_key is None:
        raise ValueError(f"{profile.name} needs an API key: pass api_key= or set {ENV_API_KEY}")
    if model is None and profile.default_model is None:
        raise ValueError(
            f"no model is configured for {profile.name!r}: pass model= or set {ENV_MODEL}"
        )
    return OpenAICompatibleBackend(
        base_url=base_url, model=model, api_key=api_key, profile=profile, **opts
    )
