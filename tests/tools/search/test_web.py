"""Hosted providers against loopback servers answering in each provider's documented shape."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from search_loopback import LoopbackServer, Reply

from ponder.tools.search import (
    BraveSearch,
    LocalIndex,
    SearchConfigError,
    SearchConnectionError,
    SearchHTTPError,
    SearchRateLimitError,
    SearchResponseError,
    SearchResult,
    SearchTimeoutError,
    SearxngSearch,
    TavilySearch,
    make_search_provider,
)

KEY = "tvly-secret-key-123"

TAVILY_BODY = {
    "query": "python list comprehension",
    "follow_up_questions": None,
    "answer": None,
    "images": [],
    "results": [
        {
            "title": "5. Data Structures",
            "url": "https://docs.python.org/3/tutorial/datastructures.html",
            "content": "List comprehensions provide a concise way to create lists.",
            "score": 0.91,
            "raw_content": None,
        },
        {
            "title": "PEP 202",
            "url": "https://peps.python.org/pep-0202/",
            "content": "This PEP describes a proposed syntactical extension.",
            "score": 0.55,
            "raw_content": None,
        },
    ],
    "response_time": 1.02,
}

BRAVE_BODY = {
    "type": "search",
    "query": {"original": "python list comprehension", "more_results_available": True},
    "web": {
        "type": "search",
        "family_friendly": True,
        "results": [
            {
                "type": "search_result",
                "title": "<strong>List</strong> Comprehensions in Python",
                "url": "https://example.org/lc",
                "is_source_local": False,
                "description": "A <strong>list comprehension</strong> &amp; more.",
                "language": "en",
                "family_friendly": True,
                "meta_url": {"scheme": "https", "netloc": "example.org", "path": "› lc"},
            },
            {
                "type": "search_result",
                "title": "Second",
                "url": "https://example.org/2",
                "description": "Another page.",
            },
        ],
    },
}

SEARXNG_BODY = {
    "query": "python list comprehension",
    "number_of_results": 0,
    "results": [
        {
            "url": f"https://example.org/{i}",
            "title": f"Result {i}",
            "content": f"Content {i}",
            "engine": "duckduckgo",
            "parsed_url": ["https", "example.org", f"/{i}", "", "", ""],
            "template": "default.html",
            "engines": ["duckduckgo", "brave"],
            "positions": [i + 1],
            "score": 3.0 - i * 0.5,
            "category": "general",
        }
        for i in range(4)
    ],
    "answers": [],
    "corrections": [],
    "infoboxes": [],
    "suggestions": [],
    "unresponsive_engines": [],
}


async def test_tavily_request_and_parse(loopback: LoopbackServer) -> None:
    loopback.replies.append(Reply(body=TAVILY_BODY))
    results = await TavilySearch(api_key=KEY, base_url=loopback.url).search("list comp", k=2)
    assert results == [
        SearchResult(
            source="tavily",
            title="5. Data Structures",
            snippet="List comprehensions provide a concise way to create lists.",
            score=0.91,
            url="https://docs.python.org/3/tutorial/datastructures.html",
        ),
        SearchResult(
            source="tavily",
            title="PEP 202",
            snippet="This PEP describes a proposed syntactical extension.",
            score=0.55,
            url="https://peps.python.org/pep-0202/",
        ),
    ]
    (seen,) = loopback.seen
    assert (seen.method, seen.path) == ("POST", "/search")
    assert json.loads(seen.body) == {"query": "list comp", "max_results": 2}
    assert seen.headers["authorization"] == f"Bearer {KEY}"


async def test_tavily_key_from_environment(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAVILY_API_KEY", "env-key")
    loopback.replies.append(Reply(body=TAVILY_BODY))
    await TavilySearch(base_url=loopback.url).search("q")
    assert loopback.seen[0].headers["authorization"] == "Bearer env-key"


async def test_brave_request_and_parse(loopback: LoopbackServer) -> None:
    loopback.replies.append(Reply(body=BRAVE_BODY))
    results = await BraveSearch(api_key="brave-key", base_url=loopback.url).search("lc", k=3)
    assert [(r.title, r.snippet, r.url, r.score) for r in results] == [
        (
            "List Comprehensions in Python",
            "A list comprehension & more.",
            "https://example.org/lc",
            1.0,
        ),
        ("Second", "Another page.", "https://example.org/2", 0.5),
    ]
    (seen,) = loopback.seen
    assert (seen.method, seen.path) == ("GET", "/res/v1/web/search")
    assert seen.query == {"q": ["lc"], "count": ["3"]}
    assert seen.headers["x-subscription-token"] == "brave-key"


async def test_brave_without_web_section_is_empty(loopback: LoopbackServer) -> None:
    loopback.replies.append(Reply(body={"type": "search", "query": {"original": "zzz"}}))
    assert await BraveSearch(api_key="k", base_url=loopback.url).search("zzz") == []


async def test_searxng_request_parse_and_k(loopback: LoopbackServer) -> None:
    loopback.replies.append(Reply(body=SEARXNG_BODY))
    results = await SearxngSearch(base_url=loopback.url + "/").search("lc", k=2)
    assert [(r.source, r.title, r.score, r.url) for r in results] == [
        ("searxng:duckduckgo", "Result 0", 3.0, "https://example.org/0"),
        ("searxng:duckduckgo", "Result 1", 2.5, "https://example.org/1"),
    ]
    (seen,) = loopback.seen
    assert (seen.method, seen.path, seen.query) == (
        "GET",
        "/search",
        {"q": ["lc"], "format": ["json"]},
    )


async def test_searxng_needs_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEARXNG_BASE_URL", raising=False)
    with pytest.raises(SearchConfigError, match="SEARXNG_BASE_URL"):
        await SearxngSearch().search("q")


async def test_searxng_403_hints_at_json_format(loopback: LoopbackServer) -> None:
    loopback.replies.append(Reply(403, raw=b"Forbidden"))
    with pytest.raises(SearchHTTPError, match="json format") as info:
        await SearxngSearch(base_url=loopback.url).search("q")
    assert info.value.status_code == 403


@pytest.mark.parametrize(
    ("cls", "env"), [(TavilySearch, "TAVILY_API_KEY"), (BraveSearch, "BRAVE_SEARCH_API_KEY")]
)
async def test_missing_key_is_a_config_error_before_any_request(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, cls: type[TavilySearch], env: str
) -> None:
    monkeypatch.delenv(env, raising=False)
    with pytest.raises(SearchConfigError, match=env):
        await cls(base_url=loopback.url).search("q")
    assert loopback.seen == []


async def test_rate_limit_retried_once_after_retry_after(loopback: LoopbackServer) -> None:
    loopback.replies += [
        Reply(429, {"detail": "slow down"}, {"Retry-After": "0"}),
        Reply(body=TAVILY_BODY),
    ]
    results = await TavilySearch(api_key=KEY, base_url=loopback.url).search("q")
    assert len(results) == 2
    assert len(loopback.seen) == 2


async def test_rate_limit_twice_raises_typed_error(loopback: LoopbackServer) -> None:
    loopback.replies += [Reply(429, {}, {"Retry-After": "0"}), Reply(429, {}, {"Retry-After": "7"})]
    with pytest.raises(SearchRateLimitError) as info:
        await TavilySearch(api_key=KEY, base_url=loopback.url).search("q")
    assert info.value.retry_after == 7.0
    assert info.value.status_code == 429
    assert len(loopback.seen) == 2


async def test_rate_limit_with_long_retry_after_is_not_waited_for(loopback: LoopbackServer) -> None:
    loopback.replies.append(Reply(429, {}, {"Retry-After": "3600"}))
    provider = BraveSearch(api_key="k", base_url=loopback.url, max_retry_wait=5)
    with pytest.raises(SearchRateLimitError, match="retry after 3600 s"):
        await provider.search("q")
    assert len(loopback.seen) == 1


async def test_auth_error_names_env_var_never_the_key(loopback: LoopbackServer) -> None:
    loopback.replies.append(Reply(401, {"detail": {"error": f"Unauthorized: {KEY}"}}))
    with pytest.raises(SearchHTTPError) as info:
        await TavilySearch(api_key=KEY, base_url=loopback.url).search("q")
    assert info.value.status_code == 401
    assert "TAVILY_API_KEY" in str(info.value)
    assert KEY not in str(info.value)


async def test_server_error_detail_is_short_and_redacted(loopback: LoopbackServer) -> None:
    loopback.replies.append(Reply(500, {"error": f"boom {KEY} " + "x" * 1000}))
    with pytest.raises(SearchHTTPError) as info:
        await TavilySearch(api_key=KEY, base_url=loopback.url).search("q")
    message = str(info.value)
    assert message.startswith("tavily answered HTTP 500: boom *** x")
    assert KEY not in message
    assert len(message) < 300


async def test_timeout_is_typed(loopback: LoopbackServer) -> None:
    loopback.replies.append(Reply(body=TAVILY_BODY, delay_s=3))
    with pytest.raises(SearchTimeoutError, match=r"within 0\.2 s"):
        await TavilySearch(api_key=KEY, base_url=loopback.url, timeout=0.2).search("q")


async def test_unreachable_server_is_typed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SearchConnectionError, match="could not be reached"):
        await TavilySearch(api_key=KEY, base_url=f"http://127.0.0.1:{port}").search("q")


@pytest.mark.parametrize(
    "reply",
    [Reply(raw=b"<html>not json</html>"), Reply(body={"results": "nope"}), Reply(body=[1, 2])],
)
async def test_malformed_bodies_are_response_errors(loopback: LoopbackServer, reply: Reply) -> None:
    loopback.replies.append(reply)
    with pytest.raises(SearchResponseError):
        await TavilySearch(api_key=KEY, base_url=loopback.url).search("q")


async def test_injected_client_is_used_and_left_open(loopback: LoopbackServer) -> None:
    loopback.replies += [Reply(body=SEARXNG_BODY), Reply(body=SEARXNG_BODY)]
    async with httpx.AsyncClient(headers={"User-Agent": "ponder-test"}) as client:
        provider = SearxngSearch(base_url=loopback.url, http_client=client)
        await provider.search("a")
        await provider.search("b")
        assert not client.is_closed
    assert [s.headers["user-agent"] for s in loopback.seen] == ["ponder-test", "ponder-test"]


async def test_blank_query_and_bad_k(loopback: LoopbackServer) -> None:
    provider = TavilySearch(api_key=KEY, base_url=loopback.url)
    assert await provider.search("   ") == []
    with pytest.raises(ValueError, match="k must be"):
        await provider.search("q", k=0)
    assert loopback.seen == []


def test_repr_hides_key() -> None:
    assert KEY not in repr(TavilySearch(api_key=KEY))
    assert "api.tavily.com" in repr(TavilySearch(api_key=KEY))


def test_make_search_provider(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_search_provider("tavily", api_key="k"), TavilySearch)
    assert isinstance(make_search_provider("brave", api_key="k"), BraveSearch)
    assert isinstance(make_search_provider("searxng", base_url="http://x"), SearxngSearch)
    local = make_search_provider("local", path=f"{tmp_path}/i.sqlite3")
    assert isinstance(local, LocalIndex)
    default = make_search_provider(data_dir=str(tmp_path))
    assert isinstance(default, LocalIndex)
    assert str(default.path).startswith(str(tmp_path))
    with pytest.raises(ValueError, match="unknown search provider"):
        make_search_provider("bing")  # type: ignore[arg-type]
