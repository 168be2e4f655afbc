"""One error body shape for every endpoint: ``{"error": {"type", "message", ...}}``.

The shape is OpenAI's, so OpenAI client libraries surface ``message`` as is.
Validation errors list where and what, never the offending input itself (not
even the name of an unknown key, which may be a pasted secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "error_response", "install_error_handlers"]

_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "request_too_large",
    422: "invalid_request",
    501: "not_configured",
    502: "model_error",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An HTTP error with a machine-readable ``type`` (e.g. ``thread_busy``)."""

    def __init__(
        self, status_code: int, error_type: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.error_type = error_type


def error_response(
    status_code: int,
    error_type: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": error_type, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route HTTP, validation and unexpected errors through :func:`error_response`."""

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error_type = getattr(exc, "error_type", None) or _TYPES.get(exc.status_code, "error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, error_type, str(exc.detail), headers=headers)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [_detail(error) for error in exc.errors()]
        summary = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details)
        return error_response(
            422, "invalid_request", f"invalid request: {summary}", details=details
        )

    async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
        message = f"the server failed ({type(exc).__name__}); see its log"
        return error_response(500, "server_error", message)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
    app.add_exception_handler(RequestValidationError, validation_error)


def _detail(error: Mapping[str, Any]) -> dict[str, Any]:
    """Where and what, without the input; an unknown key's name is input too."""
    loc = [str(part) for part in error["loc"]]
    if error.get("type") == "extra_forbidden" and loc:
        return {"loc": [*loc[:-1], "(unknown field)"], "msg": "unknown fields are not allowed"}
    return {"loc": loc, "msg": error["msg"]}
