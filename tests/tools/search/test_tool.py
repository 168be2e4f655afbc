"""The search tool wrapper, driven through the ToolBox the agent uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from search_loopback import LoopbackServer, Reply

from ponder.backends.types import ToolCall
from ponder.tools import ToolBox
from ponder.tools.search import LocalIndex, SearchResult, TavilySearch, search_tool


class _Fixed:
    def __init__(self, results: list[SearchResult]) -> None:
        self.results = results
        self.calls: list[tuple[str, int]] = []

    async def search(self, query: str, *, k: int = 5) -> list[SearchResult]:
        self.calls.append((query, k))
        return self.results[:k]


def _call(arguments: str) -> ToolCall:
    return ToolCall(id="call_1", name="search", arguments=arguments)


def test_spec() -> None:
    spec = search_tool(_Fixed([])).spec()
    assert spec.name == "search"
    assert spec.parameters["required"] == ["query"]
    assert spec.parameters["properties"]["k"]["default"] == 5
    assert spec.parameters["properties"]["k"]["maximum"] == 20


async def test_local_index_through_the_toolbox(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/moon.md").write_text("# Moon\n\nThe Moon orbits Earth.\n", encoding="utf-8")
    index = LocalIndex(tmp_path / "i.sqlite3")
    index.index_folder(tmp_path / "docs")
    box = ToolBox([search_tool(index)])
    (result,) = await box.run_all([_call('{"query": "moon orbit", "k": 3}')])
    assert result.error_kind is None
    assert "title: Moon" in result.output
    assert "untrusted" in result.output


async def test_k_is_passed_and_validated() -> None:
    provider = _Fixed([SearchResult("s", f"t{i}", "x", 1.0) for i in range(9)])
    box = ToolBox([search_tool(provider)])
    (ok,) = await box.run_all([_call('{"query": "q", "k": 2}')])
    assert ok.output.count("<result ") == 2
    assert provider.calls == [("q", 2)]
    (bad,) = await box.run_all([_call('{"query": "q", "k": 500}')])
    assert bad.error_kind == "invalid_arguments"


@pytest.mark.parametrize(
    ("query", "expected"), [("   ", "The query is empty"), ("zzz", "No results for 'zzz'")]
)
async def test_empty_query_and_no_results_are_readable(query: str, expected: str) -> None:
    tool = search_tool(_Fixed([]))
    assert (await tool.invoke({"query": query})).startswith(expected)


async def test_provider_errors_become_readable_output(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAVILY_API_KEY", raising=False)
    box = ToolBox([search_tool(TavilySearch(base_url=loopback.url))])
    (missing,) = await box.run_all([_call('{"query": "q"}')])
    assert missing.output == "Search failed: tavily needs an API key: set TAVILY_API_KEY"

    loopback.replies.append(Reply(503, {"detail": "maintenance"}))
    box = ToolBox([search_tool(TavilySearch(api_key="secret-k", base_url=loopback.url))])
    (failed,) = await box.run_all([_call('{"query": "q"}')])
    assert failed.output == "Search failed: tavily answered HTTP 503: maintenance"
    assert "secret-k" not in failed.output
