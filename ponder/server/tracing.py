"""W3C trace context from incoming requests, so a caller's trace holds the agent's spans.

A pure ASGI middleware: when OpenTelemetry is loaded it extracts
``traceparent``/``tracestate`` with the global propagator and makes that
context current for the request (the run's ``invoke_agent`` span becomes a
child of the caller's span). Without OpenTelemetry it passes requests
through untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ponder.telemetry.settings import otel_loaded

__all__ = ["TraceContextMiddleware"]


class TraceContextMiddleware:
    """Attach the request's W3C trace context while the app handles it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not otel_loaded():
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if "traceparent" not in headers:
            await self.app(scope, receive, send)
            return
        from opentelemetry import context, propagate

        token = context.attach(propagate.extract(headers))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
