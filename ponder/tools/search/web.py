"""Hosted web search over httpx: Tavily, Brave Search and SearXNG.

Each provider builds one request and parses its documented response shape; the
shared part sends it with a timeout, retries a 429 once (honouring a bounded
Retry-After) and turns failures into typed ``SearchError``s. API keys are sent
in headers only and never appear in reprs or error messages.
"""

from __future__ import annotations

import asyncio
import email.utils
import html
import os
import re
import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import httpx

from ponder.tools.search.types import (
    SearchConfigError,
    SearchConnectionError,
    SearchHTTPError,
    SearchRateLimitError,
    SearchResponseError,
    SearchResult,
    SearchTimeoutError,
)

__all__ = ["BraveSearch", "SearxngSearch", "TavilySearch"]

_MAX_K = 20
_DETAIL_CHARS = 200
_TAG = re.compile(r"<[^>]*>")


class _HostedSearch(ABC):
    """Shared request/retry/error handling; subclasses supply the wire format."""

    name: ClassVar[str]
    key_env: ClassVar[str | None] = None
    base_url_env: ClassVar[str | None] = None
    default_base_url: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 15.0,
        max_retry_wait: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        """Keys and base URLs default to the environment (read now); a missing one is
        reported by ``search`` as a ``SearchConfigError``, so a tool can show it."""
        if timeout <= 0 or max_retry_wait < 0:
            raise ValueError("timeout must be positive and max_retry_wait non-negative")
        env_key = os.environ.get(self.key_env) if self.key_env else None
        env_base = os.environ.get(self.base_url_env) if self.base_url_env else None
        self._api_key = api_key or env_key or None
        self._base_url = (base_url or env_base or self.default_base_url or "").rstrip("/")
        self._timeout = timeout
        self._max_retry_wait = max_retry_wait
        self._client = http_client

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, timeout={self._timeout})"

    async def search(self, query: str, *, k: int = 5) -> list[SearchResult]:
        """Up to ``k`` (at most 20) web results for ``query``, best first."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not query.strip():
            return []
        self._check_config()
        k = min(k, _MAX_K)
        if self._client is not None:
            data = await self._fetch(self._client, query, k)
        else:
            async with httpx.AsyncClient() as client:
                data = await self._fetch(client, query, k)
        try:
            return self._parse(data, k)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SearchResponseError(f"{self.name} answered in an unexpected shape") from exc

    def _check_config(self) -> None:
        if self.key_env and not self._api_key:
            raise SearchConfigError(f"{self.name} needs an API key: set {self.key_env}")
        if not self._base_url.startswith(("http://", "https://")):
            hint = f": set {self.base_url_env}" if self.base_url_env else ""
            raise SearchConfigError(f"{self.name} needs an http(s) base URL{hint}")

    @abstractmethod
    def _request(self, client: httpx.AsyncClient, query: str, k: int) -> httpx.Request: ...

    @abstractmethod
    def _parse(self, data: Any, k: int) -> list[SearchResult]: ...

    def _http_hint(self, status: int) -> str:
        return ""

    async def _fetch(self, client: httpx.AsyncClient, query: str, k: int) -> Any:
        response = await self._send(client, self._request(client, query, k))
        if response.status_code == 429:
            wait = _retry_after(response)
            if wait is not None and wait > self._max_retry_wait:
                raise self._rate_limited(wait)
            await asyncio.sleep(1.0 if wait is None else wait)
            response = await self._send(client, self._request(client, query, k))
            if response.status_code == 429:
                raise self._rate_limited(_retry_after(response))
        if response.status_code >= 400:
            raise SearchHTTPError(self._describe(response), status_code=response.status_code)
        try:
            return response.json()
        except ValueError as exc:
            raise SearchResponseError(f"{self.name} answered with a body that is not JSON") from exc

    async def _send(self, client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
        try:
            response = await client.send(request)
            await response.aread()
        except httpx.TimeoutException as exc:
            raise SearchTimeoutError(
                f"{self.name} did not answer within {self._timeout:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise SearchConnectionError(
                f"{self.name} could not be reached ({type(exc).__name__})"
            ) from exc
        return response

    def _rate_limited(self, retry_after: float | None) -> SearchRateLimitError:
        hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return SearchRateLimitError(
            f"{self.name} rate limit reached (HTTP 429){hint}", retry_after=retry_after
        )

    def _describe(self, response: httpx.Response) -> str:
        status = response.status_code
        if status in (401, 403) and self.key_env:
            return f"{self.name} rejected the API key (HTTP {status}); check {self.key_env}"
        detail = _detail(response)
        if self._api_key:
            detail = detail.replace(self._api_key, "***")
        message = f"{self.name} answered HTTP {status}"
        message += f": {detail}" if detail else ""
        return message + self._http_hint(status)


class TavilySearch(_HostedSearch):
    """Tavily: ``POST {base}/search`` with a bearer key; results carry ``content`` and ``score``."""

    name = "tavily"
    key_env = "TAVILY_API_KEY"
    default_base_url = "https://api.tavily.com"

    def _request(self, client: httpx.AsyncClient, query: str, k: int) -> httpx.Request:
        return client.build_request(
            "POST",
            f"{self._base_url}/search",
            json={"query": query, "max_results": k},
            headers={"Authorization": f"Bearer {self._api_key}"},
            timeout=self._timeout,
        )

    def _parse(self, data: Any, k: int) -> list[SearchResult]:
        return [
            SearchResult(
                source=self.name,
                title=str(item.get("title") or ""),
                snippet=str(item.get("content") or ""),
                score=float(item.get("score") or 0.0),
                url=_url(item),
            )
            for item in _dicts(data["results"])[:k]
        ]


class BraveSearch(_HostedSearch):
    """Brave Search: ``GET {base}/res/v1/web/search?q=&count=``, key in ``X-Subscription-Token``.

    Brave gives no score: results are scored by rank (1.0, 0.5, 0.33, ...).
    """

    name = "brave"
    key_env = "BRAVE_SEARCH_API_KEY"
    default_base_url = "https://api.search.brave.com"

    def _request(self, client: httpx.AsyncClient, query: str, k: int) -> httpx.Request:
        return client.build_request(
            "GET",
            f"{self._base_url}/res/v1/web/search",
            params={"q": query, "count": k},
            headers={"Accept": "application/json", "X-Subscription-Token": self._api_key or ""},
            timeout=self._timeout,
        )

    def _parse(self, data: Any, k: int) -> list[SearchResult]:
        web = data.get("web") or {}
        return [
            SearchResult(
                source=self.name,
                title=_plain(item.get("title")),
                snippet=_plain(item.get("description")),
                score=1.0 / rank,
                url=_url(item),
            )
            for rank, item in enumerate(_dicts(web.get("results") or [])[:k], start=1)
        ]


class SearxngSearch(_HostedSearch):
    """A SearXNG instance: ``GET {base}/search?q=&format=json`` (no key; base URL required).

    The instance must allow the ``json`` format (``search.formats`` in its settings.yml).
    SearXNG has no result-count parameter: the first ``k`` results are kept.
    """

    name = "searxng"
    base_url_env = "SEARXNG_BASE_URL"

    def _request(self, client: httpx.AsyncClient, query: str, k: int) -> httpx.Request:
        return client.build_request(
            "GET",
            f"{self._base_url}/search",
            params={"q": query, "format": "json"},
            headers={"Accept": "application/json"},
            timeout=self._timeout,
        )

    def _parse(self, data: Any, k: int) -> list[SearchResult]:
        results = []
        for rank, item in enumerate(_dicts(data["results"])[:k], start=1):
            engine = item.get("engine")
            score = item.get("score")
            results.append(
                SearchResult(
                    source=f"{self.name}:{engine}" if engine else self.name,
                    title=str(item.get("title") or ""),
                    snippet=str(item.get("content") or ""),
                    score=float(score) if isinstance(score, int | float) else 1.0 / rank,
                    url=_url(item),
                )
            )
        return results

    def _http_hint(self, status: int) -> str:
        if status == 403:
            return " (does the instance enable the json format in search.formats?)"
        return ""


def _dicts(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise SearchResponseError("expected a list of results")
    return [item for item in items if isinstance(item, dict)]


def _url(item: dict[str, Any]) -> str | None:
    url = item.get("url")
    return url if isinstance(url, str) and url else None


def _plain(text: Any) -> str:
    """Brave marks matches with HTML (``<strong>``): drop tags, decode entities."""
    return html.unescape(_TAG.sub("", str(text or "")))


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _detail(response: httpx.Response) -> str:
    """A short, single-line description of an error body."""
    try:
        data = response.json()
    except ValueError:
        text = response.text
    else:
        text = str(data)
        if isinstance(data, dict):
            for key in ("detail", "error", "message"):
                if data.get(key):
                    text = str(data[key])
                    break
    return " ".join(text.split())[:_DETAIL_CHARS]
