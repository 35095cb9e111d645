"""A clock tests move by hand, for a Store's leases, backoff and heartbeats (`Store(url, clock=...)`)."""

from __future__ import annotations

import threading
import time


class ManualClock:
    """Starts at the real time and moves only when `advance` is called. Thread-safe."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
