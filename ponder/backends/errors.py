"""Typed backend errors. Messages never contain API keys or request bodies."""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BackendError",
    "BadRequestError",
    "BrokenStreamError",
    "ConnectionFailedError",
    "ContextLengthError",
    "ProtocolError",
    "RateLimitError",
    "ReasoningBudgetExhausted",
    "ResponseTooLargeError",
    "ServerError",
]


class BackendError(Exception):
    """Base class of every error a backend raises.

    ``retryable`` says whether the same request may succeed if sent again.
    """

    retryable: bool = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class ConnectionFailedError(BackendError):
    """The backend could not be reached (refused, DNS, timeout before a response)."""

    retryable = True


class AuthenticationError(BackendError):
    """401/403: the API key is missing, wrong, or lacks permission."""


class RateLimitError(BackendError):
    """429. ``retry_after`` is the server's hint in seconds, if it sent one."""

    retryable = True

    def __init__(
        self, message: str, *, status_code: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class ContextLengthError(BackendError):
    """The prompt plus ``max_tokens`` exceeds the model's context window."""


class BadRequestError(BackendError):
    """400/404/422: the provider rejected the request as malformed."""


class ServerError(BackendError):
    """5xx: the provider failed; usually transient."""

    retryable = True

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class BrokenStreamError(BackendError):
    """A stream ended early (no ``[DONE]``) or carried an error object mid-way.

    ``partial`` counts characters already delivered to the caller, so a
    caller knows the answer was truncated rather than complete.
    """

    retryable = True

    def __init__(self, message: str, *, partial_chars: int = 0) -> None:
        super().__init__(message)
        self.partial_chars = partial_chars


class ProtocolError(BackendError):
    """The provider answered with something that is not the expected wire format."""


class ReasoningBudgetExhausted(BackendError):
    """``finish_reason == "length"`` with reasoning but no answer.

    The model spent its whole token budget thinking. Raise ``max_tokens`` or
    lower the reasoning effort; retrying the same request will not help.
    """

    def __init__(self, message: str, *, reasoning_chars: int = 0) -> None:
        super().__init__(message)
        self.reasoning_chars = reasoning_chars


class ResponseTooLargeError(BackendError):
    """One model call sent more reasoning or answer text than the backend accepts.

    ``kind`` is ``"reasoning"`` or ``"answer"``, ``limit`` the bound in
    characters (``max_reasoning_chars`` / ``max_answer_chars``). Reading
    stopped there; retrying the same request will not help.
    """

    def __init__(self, kind: str, limit: int) -> None:
        super().__init__(
            f"the model sent more than {limit:,} characters of {kind} in one call; "
            f"reading stopped (raise max_{kind}_chars if this is legitimate)"
        )
        self.kind = kind
        self.limit = limit
