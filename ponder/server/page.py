"""The chat page: ``/`` and its assets under ``/ui/``, shipped inside the package.

A static page and one plain script (no build step, no CDN: KaTeX is vendored
under ``static/ui/katex``). The page itself needs no token; every API call it
makes does, with the token the user typed (kept in ``sessionStorage``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["PAGE_PATHS", "PAGE_PREFIXES", "STATIC_DIR", "mount_page"]

STATIC_DIR = Path(__file__).with_name("static")
PAGE_PATHS = frozenset({"/"})
PAGE_PREFIXES = ("/ui/",)
"""What the page serves without a token: it holds none, and asks for one to call the API."""

_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # KaTeX sets inline style attributes
        "font-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def mount_page(app: FastAPI) -> None:
    """Serve the page at ``/`` and its script, styles and fonts at ``/ui/``."""

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)

    app.mount("/ui", StaticFiles(directory=STATIC_DIR / "ui"), name="ponder-ui")
