"""When to retry a request to a generation server, and how long to wait first."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

#: Statuses worth another try: the server is overloaded, restarting or briefly broken. Other
#: 4xx answers (a bad parameter, an unknown model, a prompt too long) fail the same way again.
RETRY_STATUSES = frozenset({408, 409, 429})


def should_retry_status(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (delta-seconds or an HTTP date);
    ``None`` when the header is missing or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random,
                  retry_after: float | None = None) -> float:
    """Seconds to sleep before retry number ``attempt + 1`` (``attempt`` counts from 0).

    Exponential backoff ``base * 2**attempt``, capped at ``cap``, with "equal jitter": half of
    it fixed, half random, so that many workers that failed together do not retry together.
    A server's ``Retry-After`` wins (it knows when it will be ready), capped at ``cap`` too.
    """
    if retry_after is not None:
        return min(retry_after, cap)
    ceiling = min(cap, base * (2 ** attempt))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)
