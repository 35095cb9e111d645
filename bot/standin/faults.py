"""Fault injection for the stand-in's REST API: the failures real GitHub produces under load.

A fault is decided BEFORE the request touches state, so a retried write applies once; the one exception
is `lost_response`, where the write applies and the connection is dropped before the answer, which is
what makes an idempotent client necessary.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field

KINDS = ("500", "502", "429", "secondary", "drop")
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class Fault:
    kind: str  # one of KINDS, or "lost_response"
    retry_after: int = 1


@dataclass
class Faults:
    """What can go wrong and how often. All knobs are safe to change while the stand-in runs.

    `probability`: chance that a matching request fails with one of `kinds` (picked uniformly).
    `methods`: limit faults to these HTTP methods (e.g. `WRITE_METHODS`); None means all.
    `lost_response`: chance that a matching write applies but its response is dropped.
    `delay_seconds`: added before every REST response (slow GitHub).
    `retry_after`: the Retry-After seconds sent with 429 and secondary rate limits.
    `seed`: makes the random choices repeatable.
    """

    probability: float = 0.0
    kinds: tuple[str, ...] = KINDS
    methods: frozenset[str] | None = None
    lost_response: float = 0.0
    delay_seconds: float = 0.0
    retry_after: int = 1
    seed: int | None = None
    injected: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, kind) log
    _queue: deque[tuple[str, frozenset[str] | None]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random | None = None

    def next(self, kind: str, *, times: int = 1, methods: frozenset[str] | set[str] | None = None) -> None:
        """Make the next `times` matching requests fail with `kind` (deterministic, for tests)."""
        if kind not in (*KINDS, "lost_response"):
            raise ValueError(f"unknown fault kind {kind!r}; use one of {(*KINDS, 'lost_response')}")
        with self._lock:
            for _ in range(times):
                self._queue.append((kind, frozenset(m.upper() for m in methods) if methods else None))

    def clear(self) -> None:
        """No more faults (queued or random); the log of injected faults is kept."""
        with self._lock:
            self._queue.clear()
            self.probability = 0.0
            self.lost_response = 0.0
            self.delay_seconds = 0.0

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if any (called once per REST request, before any state change)."""
        method = method.upper()
        with self._lock:
            for index, (kind, methods) in enumerate(self._queue):
                if methods is None or method in methods:
                    del self._queue[index]
                    return self._record(method, path, kind)
            if self.methods is not None and method not in self.methods:
                return None
            rng = self._random()
            if self.probability and rng.random() < self.probability:
                return self._record(method, path, rng.choice(self.kinds))
            if self.lost_response and method in WRITE_METHODS and rng.random() < self.lost_response:
                return self._record(method, path, "lost_response")
        return None

    def _random(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self.seed)  # noqa: S311 - fault choice, not security
        return self._rng

    def _record(self, method: str, path: str, kind: str) -> Fault:
        self.injected.append((method, path, kind))
        return Fault(kind, self.retry_after)
