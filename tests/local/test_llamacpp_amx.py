"""llama.cpp's AMX buffers stay off unless asked for (a VM here advertises AMX and faults on it)."""

from __future__ import annotations

import pytest

from local.conftest import require_llama_cpp
from ponder.backends.local import llamacpp_amx
from ponder.backends.local.llamacpp_amx import (
    AMX_ENV,
    amx_allowed,
    build_has_amx,
    model_params_without_amx,
)

pytestmark = pytest.mark.local_engine

WITH_AMX = "CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 | "
WITHOUT_AMX = "CPU : AVX2 = 1 | AVX512 = 1 | REPACK = 1 | "


def test_the_build_is_read_from_llama_cpp_system_info() -> None:
    assert build_has_amx(WITH_AMX) and not build_has_amx(WITHOUT_AMX)


@pytest.mark.parametrize(("value", "allowed"), [("1", True), ("yes", True), ("0", False)])
def test_the_user_may_allow_amx(value: str, allowed: bool) -> None:
    assert amx_allowed({AMX_ENV: value}) is allowed
    assert amx_allowed({}) is False


def _loaded_with_extra_buffers() -> bool:
    import llama_cpp.llama_cpp as low

    return bool(low.llama_model_default_params().use_extra_bufts)


@pytest.mark.parametrize(
    ("has_amx", "allow", "extra_buffers"),
    [(True, None, False), (True, "1", True), (False, None, True)],
)
def test_loads_get_no_extra_buffers_only_where_amx_is_built_and_not_allowed(
    monkeypatch: pytest.MonkeyPatch, has_amx: bool, allow: str | None, extra_buffers: bool
) -> None:
    require_llama_cpp()
    monkeypatch.setattr(llamacpp_amx, "build_has_amx", lambda: has_amx)
    if allow is None:
        monkeypatch.delenv(AMX_ENV, raising=False)
    else:
        monkeypatch.setenv(AMX_ENV, allow)
    assert _loaded_with_extra_buffers()  # llama.cpp's own default
    with model_params_without_amx():
        assert _loaded_with_extra_buffers() is extra_buffers
    assert _loaded_with_extra_buffers()  # restored after the load
