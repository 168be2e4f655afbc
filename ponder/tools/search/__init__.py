"""The ``search`` tool: a local SQLite FTS5 index (the offline default) and hosted web search.

Results reach the model through ``format_results`` as delimited, untrusted data.
"""

from ponder.tools.search.formatting import format_results
from ponder.tools.search.local import LocalIndex, index_command
from ponder.tools.search.providers import ProviderKind, make_search_provider
from ponder.tools.search.tool import search_tool
from ponder.tools.search.types import (
    IndexStats,
    SearchConfigError,
    SearchConnectionError,
    SearchError,
    SearchHTTPError,
    SearchProvider,
    SearchRateLimitError,
    SearchResponseError,
    SearchResult,
    SearchTimeoutError,
)
from ponder.tools.search.web import BraveSearch, SearxngSearch, TavilySearch

__all__ = [
    "BraveSearch",
    "IndexStats",
    "LocalIndex",
    "ProviderKind",
    "SearchConfigError",
    "SearchConnectionError",
    "SearchError",
    "SearchHTTPError",
    "SearchProvider",
    "SearchRateLimitError",
    "SearchResponseError",
    "SearchResult",
    "SearchTimeoutError",
    "SearxngSearch",
    "TavilySearch",
    "format_results",
    "index_command",
    "make_search_provider",
    "search_tool",
]
