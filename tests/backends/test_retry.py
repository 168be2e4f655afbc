"""Backoff arithmetic and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from ponder.backends.errors import AuthenticationError, RateLimitError, ServerError
from ponder.backends.retry import RetryPolicy, parse_retry_after


def test_full_jitter_stays_under_the_capped_exponential() -> None:
    policy = RetryPolicy(max_retries=10, initial_s=0.5, max_s=4.0, rng=random.Random(1))
    error = ServerError("HTTP 503", status_code=503)
    for attempt in range(1, 10):
        ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
        delays = [policy.delay_s(error, attempt) for _ in range(50)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spans the range, not a constant


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after_s=60.0)
    assert policy.delay_s(RateLimitError("429", retry_after=2.5), 1) == 2.5
    assert policy.delay_s(RateLimitError("429", retry_after=3600), 1) == 60.0


def test_only_retryable_errors_within_the_budget_are_retried() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.should_retry(ServerError("503"), 1)
    assert policy.should_retry(ServerError("503"), 2)
    assert not policy.should_retry(ServerError("503"), 3)
    assert not policy.should_retry(AuthenticationError("401"), 1)


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="durations"):
        RetryPolicy(initial_s=-1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("Wed, 21 Oct 2026 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),  # in the past
        ("-4", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected
