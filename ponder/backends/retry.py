"""When and how long to wait before retrying a failed model call.

Capped exponential backoff with full jitter (AWS architecture blog, "Exponential
Backoff And Jitter"), overridden by the server's ``Retry-After`` hint, itself
capped so a hostile or confused server cannot park a caller for hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from ponder.backends.errors import BackendError

__all__ = ["RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry a transient failure, and how long to wait."""

    max_retries: int = 3
    initial_s: float = 0.5
    max_s: float = 8.0
    max_retry_after_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.initial_s < 0 or self.max_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("backoff durations must be >= 0")

    def should_retry(self, error: BackendError, attempt: int) -> bool:
        """Whether failed attempt number ``attempt`` (1-based) may be retried."""
        return error.retryable and attempt <= self.max_retries

    def delay_s(self, error: BackendError, attempt: int) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based)."""
        hint = getattr(error, "retry_after", None)
        if isinstance(hint, int | float) and hint >= 0:
            return min(float(hint), self.max_retry_after_s)
        ceiling = min(self.max_s, self.initial_s * 2 ** (attempt - 1))
        return self.rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header (delta seconds or an HTTP date) in seconds, or None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
