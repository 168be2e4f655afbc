"""Provider-shaped HTTP error bodies (R1-PROTOCOL.md §1, §3-§6, plus each server's source).

Each style reproduces one server's error JSON. Where the real wording of a
message is unknown the message is modelled on the provider's docs; such
places say so.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

__all__ = ["ErrorStyle", "auth_error_body", "error_body"]

ErrorStyle = Literal[
    "openai", "vllm", "sglang", "ollama_v1", "ollama_native", "llamacpp", "openrouter"
]

# llama.cpp tools/server: format_error_response(); error types by status.
_LLAMACPP_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    501: "not_supported_error",
    503: "unavailable_error",
}
# OpenAI-style types as DeepSeek returns them (DeepSeek sends the type as `code` too).
_OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def error_body(style: ErrorStyle, status: int, message: str, *, param: str | None = None) -> Any:
    """The JSON body ``style``'s server sends with HTTP ``status``."""
    match style:
        case "openai":
            # DeepSeek (§1): {"error": {"message", "type", "param", "code"}},
            # e.g. type and code both "invalid_request_error" on a 400.
            kind = _OPENAI_TYPES.get(status, _fallback_type(status))
            return {"error": {"message": message, "type": kind, "param": param, "code": kind}}
        case "vllm":
            # vLLM ErrorResponse{error: ErrorInfo{message, type, param, code: int}} (§3).
            info = {"message": message, "type": _exception_name(status), "param": param}
            return {"error": {**info, "code": status}}
        case "sglang":
            # SGLang's flat ErrorResponse(object="error", message, type, param, code) (§3).
            return {
                "object": "error",
                "message": message,
                "type": _exception_name(status),
                "param": param,
                "code": status,
            }
        case "ollama_v1":
            # ollama openai/openai.go NewError(): code and param are always null (§4).
            kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
            return {"error": {"message": message, "type": kind, "param": None, "code": None}}
        case "ollama_native":
            # Ollama /api/*: {"error": "..."} (§4).
            return {"error": message}
        case "llamacpp":
            # llama.cpp server: {"error": {"code": int, "message", "type"}} (§5).
            kind = _LLAMACPP_TYPES.get(status, _fallback_type(status))
            return {"error": {"code": status, "message": message, "type": kind}}
        case "openrouter":
            # OpenRouter: {"error": {"code": int, "message", "metadata"?}} (§6).
            return {"error": {"code": status, "message": message}}


def auth_error_body(style: ErrorStyle, presented_key: str | None) -> Any:
    """The 401 body for a missing or wrong key."""
    match style:
        case "openai":
            # DeepSeek masks all but the last four characters of the key it got.
            shown = f"****{presented_key[-4:]}" if presented_key else "(none)"
            return error_body(style, 401, f"Authentication Fails, Your api key: {shown} is invalid")
        case "vllm" | "sglang":
            # Both servers' --api-key middleware answer {"error": "Unauthorized"}.
            return {"error": "Unauthorized"}
        case "llamacpp":
            return error_body(style, 401, "Invalid API Key")
        case "openrouter":
            message = "User not found." if presented_key else "No auth credentials found"
            return error_body(style, 401, message)
        case "ollama_v1" | "ollama_native":
            # Ollama has no keys of its own; this is what a reverse proxy in front says.
            return error_body(style, 401, "unauthorized")


def _exception_name(status: int) -> str:
    """vLLM/SGLang style error type: the status phrase as a class name."""
    try:
        name = HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return "InternalServerError" if status >= 500 else "BadRequestError"
    return name if name.endswith("Error") else f"{name}Error"


def _fallback_type(status: int) -> str:
    return "server_error" if status >= 500 else "invalid_request_error"
