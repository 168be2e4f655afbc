"""make_backend, construction errors, list_models and the public surface."""

from __future__ import annotations

import httpx
import pytest
from backend_helpers import backend_for

from ponder.backends import (
    ChatBackend,
    OllamaNativeBackend,
    OpenAICompatibleBackend,
    detect_profile,
    make_backend,
)
from ponder.testing import FakeModelServer

_ENV = ("PONDER_BASE_URL", "PONDER_MODEL", "PONDER_API_KEY", "PONDER_PROVIDER")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


async def test_nothing_configured_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="PONDER_BASE_URL"):
        make_backend()


async def test_environment_configures_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_BASE_URL", "http://localhost:8000/v1")
    monkeypatch.setenv("PONDER_MODEL", "deepseek-ai/DeepSeek-R1-0528")
    monkeypatch.setenv("PONDER_API_KEY", "sk-env-secret")
    backend = make_backend()
    assert isinstance(backend, OpenAICompatibleBackend)
    assert isinstance(backend, ChatBackend)
    assert backend.profile.name == "vllm"  # detected from the port
    assert backend.model == "deepseek-ai/DeepSeek-R1-0528"
    assert "sk-env-secret" not in repr(backend)
    await backend.aclose()


async def test_named_providers_use_their_defaults() -> None:
    backend = make_backend("deepseek", api_key="sk-x")
    assert isinstance(backend, OpenAICompatibleBackend)
    assert backend.base_url == "https://api.deepseek.com"
    assert backend.model == "deepseek-v4-pro"
    await backend.aclose()
    native = make_backend("ollama-native", base_url="http://localhost:11434/v1", model="r1:8b")
    assert isinstance(native, OllamaNativeBackend)
    assert native.base_url == "http://localhost:11434"
    await native.aclose()


async def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown provider 'nope'"):
        make_backend("nope")
    with pytest.raises(ValueError, match="no model"):
        make_backend(base_url="http://example.test/v1")
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleBackend(base_url="example.test", model="m")


async def test_repr_hides_credentials_in_the_url() -> None:
    backend = OpenAICompatibleBackend(base_url="https://user:pw@host.test/v1", model="m")
    assert "pw" not in repr(backend) and "host.test" in repr(backend)
    await backend.aclose()


@pytest.mark.parametrize("shape", ["vllm", "ollama-native"])
async def test_list_models(shape: str) -> None:
    with FakeModelServer([], shape=shape, model="r1-test") as srv:
        async with backend_for(srv, shape) as backend:
            assert await backend.list_models() == ["r1-test"]


async def test_a_given_http_client_is_not_closed() -> None:
    async with httpx.AsyncClient() as client:
        backend = OpenAICompatibleBackend(
            base_url="http://localhost:8000/v1", model="m", http_client=client
        )
        await backend.aclose()
        assert not client.is_closed


@pytest.mark.parametrize(
    ("base_url", "model", "expected"),
    [
        ("https://api.deepseek.com", "deepseek-reasoner", "deepseek"),
        ("http://127.0.0.1:9999/v1", "deepseek-v4-flash", "deepseek"),
        ("http://127.0.0.1:9999/v1", "deepseek-reasoner", "deepseek-r1"),
        ("http://127.0.0.1:9999/v1", "deepseek-ai/DeepSeek-R1-0528", "openai-compatible"),
        ("http://localhost:8000/v1", "deepseek-ai/DeepSeek-R1-0528", "vllm"),
    ],
)
def test_auto_detection_uses_deepseek_api_model_ids(
    base_url: str, model: str, expected: str
) -> None:
    assert detect_profile(base_url, model).name == expected


def test_a_hosted_provider_without_a_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="needs an API key"):
        make_backend(provider="deepseek")
