"""Shared types of the search tool: results, the provider protocol, stats and errors.

Error messages never contain API keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "IndexStats",
    "SearchConfigError",
    "SearchConnectionError",
    "SearchError",
    "SearchHTTPError",
    "SearchProvider",
    "SearchRateLimitError",
    "SearchResponseError",
    "SearchResult",
    "SearchTimeoutError",
]


@dataclass(frozen=True)
class SearchResult:
    """One hit. ``source`` says where it came from (a path and line, a provider name)."""

    source: str
    title: str
    snippet: str
    score: float
    url: str | None = None


@runtime_checkable
class SearchProvider(Protocol):
    """Anything that answers a free-text query with ranked results, best first."""

    async def search(self, query: str, *, k: int = 5) -> list[SearchResult]: ...


@dataclass(frozen=True)
class IndexStats:
    """What one indexing run did.

    ``chunks`` counts the chunks written by this run (0 when nothing changed).
    """

    files_seen: int
    files_indexed: int
    files_unchanged: int
    files_removed: int
    chunks: int
    seconds: float


class SearchError(Exception):
    """Base class of every error a search provider raises."""


class SearchConfigError(SearchError):
    """The provider is not usable as configured (missing API key, bad base URL or option)."""


class SearchConnectionError(SearchError):
    """The provider could not be reached."""


class SearchTimeoutError(SearchConnectionError):
    """The provider did not answer within the timeout."""


class SearchHTTPError(SearchError):
    """The provider answered with an HTTP error status."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class SearchRateLimitError(SearchHTTPError):
    """429 after the one bounded retry. ``retry_after`` is the server's last hint, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, status_code=429)
        self.retry_after = retry_after


class SearchResponseError(SearchError):
    """The provider answered 2xx with a body that is not the documented shape."""
