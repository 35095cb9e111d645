"""GitHub's primary rate limit, counted as GitHub counts it, for the `X-RateLimit-*` headers.

Each installation, user and app has its own hourly budget (5,000 requests; 60 for unauthenticated callers,
counted together here). Every answered REST request spends one, except a 304 to an authorised conditional
request. The stand-in reports the budget but never refuses a request for it: the fault injector
(`Faults`, kinds "429" and "secondary") is how a test meets a rate limit.
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

AUTHENTICATED_LIMIT = 5000
UNAUTHENTICATED_LIMIT = 60
WINDOW_S = 3600


@dataclass
class _Window:
    used: int
    resets_at: int


class RateLimits:
    """Budgets by caller key (`installation:<id>`, `user:<login>`, `app:<id>`, or `anonymous`)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def spend(self, key: str, *, counted: bool) -> dict[str, str]:
        """Record one answered request for `key` (spending the budget when `counted`); the headers to send."""
        limit = UNAUTHENTICATED_LIMIT if key == "anonymous" else AUTHENTICATED_LIMIT
        now = int(self._clock())
        with self._lock:
            window = self._windows.get(key)
            if window is None or window.resets_at <= now:
                window = self._windows[key] = _Window(0, now + WINDOW_S)
            if counted:
                window.used += 1
            used, resets_at = window.used, window.resets_at
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Reset": str(resets_at),
            "X-RateLimit-Resource": "core",
        }

    def used(self, key: str) -> int:
        """Requests `key` spent in its current window."""
        with self._lock:
            window = self._windows.get(key)
            return 0 if window is None or window.resets_at <= int(self._clock()) else window.used
