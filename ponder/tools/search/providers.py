"""Choose a search provider by name."""

from __future__ import annotations

from typing import Any, Literal

from ponder.tools.search.local import LocalIndex
from ponder.tools.search.types import SearchProvider
from ponder.tools.search.web import BraveSearch, SearxngSearch, TavilySearch

__all__ = ["ProviderKind", "make_search_provider"]

ProviderKind = Literal["local", "tavily", "brave", "searxng"]


def make_search_provider(kind: ProviderKind = "local", **opts: Any) -> SearchProvider:
    """A provider of the given kind, built with ``opts``.

    ``local``: ``path=`` opens that index file, otherwise the default index
    (``data_dir=`` overrides the user data dir). Hosted kinds take ``api_key``,
    ``base_url``, ``timeout``, ``max_retry_wait`` and ``http_client``.
    """
    if kind == "local":
        path = opts.pop("path", None)
        if path is not None:
            if opts:
                raise TypeError(f"unexpected options for a local index file: {sorted(opts)}")
            return LocalIndex(path)
        return LocalIndex.default(**opts)
    hosted: dict[str, type[TavilySearch | BraveSearch | SearxngSearch]] = {
        "tavily": TavilySearch,
        "brave": BraveSearch,
        "searxng": SearxngSearch,
    }
    if kind not in hosted:
        raise ValueError(
            f"unknown search provider {kind!r}; choose one of local, {', '.join(hosted)}"
        )
    return hosted[kind](**opts)
