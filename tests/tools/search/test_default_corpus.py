"""The offline default corpus (pydoc topics, stdlib and sympy docstrings).

Building it takes ~6-9 s on two busy cores, so the tests that need it are marked slow
and share one build per module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ponder.tools.search import LocalIndex


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ponder-data")


@pytest.fixture(scope="module")
def built(data_dir: Path) -> LocalIndex:
    index = LocalIndex.default(data_dir=data_dir)
    stats = index.index_default_corpus()
    assert stats.files_indexed > 1000
    assert stats.chunks > 10_000
    return index


@pytest.mark.slow
async def test_list_comprehension_finds_the_python_docs_topic(built: LocalIndex) -> None:
    results = await built.search("list comprehension")
    version = sys.version.split()[0]
    assert results[0].source == f"python {version} docs: lists"
    assert results[0].title == "List displays"
    assert "**comprehension**" in results[0].snippet


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("json decoder", "json.decoder"),
        ("sympy Integral unevaluated", "sympy.integrals.integrals.Integral"),
        ("context manager with statement", "With Statement Context Managers"),
    ],
)
async def test_stdlib_and_sympy_docstrings(built: LocalIndex, query: str, title: str) -> None:
    titles = [r.title for r in await built.search(query, k=5)]
    assert title in titles


@pytest.mark.slow
async def test_built_on_first_search_then_reused(
    built: LocalIndex, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: LocalIndex) -> None:
        raise AssertionError("the default corpus was rebuilt")

    monkeypatch.setattr(LocalIndex, "index_default_corpus", refuse)
    fresh = LocalIndex.default(data_dir=data_dir)
    assert fresh.path == built.path
    assert await fresh.search("dictionary displays")


async def test_lazy_build_on_first_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[LocalIndex] = []
    monkeypatch.setattr(LocalIndex, "index_default_corpus", lambda self, **_: calls.append(self))
    index = LocalIndex.default(data_dir=tmp_path)
    assert not index.path.exists()
    await index.search("anything")
    assert calls == [index]
