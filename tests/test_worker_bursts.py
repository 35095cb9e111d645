"""The in-process worker under a burst of deliveries: it lets the web process answer them first, for a bounded
time, never delays a lone delivery, and drains a backlog in growing claims (issue 12)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.store import Store
from bot.core.events import Delivery
from bot.worker import CLAIM_BATCH, MAX_CLAIM_BATCH, Worker, start_worker_thread


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    yield store
    store.close()


class Handled:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, delivery: Delivery) -> None:
        with self.lock:
            self.times.append(time.monotonic())

    def count(self) -> int:
        with self.lock:
            return len(self.times)


def _burst(store: Store, worker: Worker, seconds: float, every: float = 0.002) -> float:
    """Queue a delivery and wake the worker every `every` seconds for `seconds`, as the intake does under a
    burst; when it ended."""
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        store.accept(f"d-{n}", "push", None, b"{}")
        worker.wake()
        n += 1
        time.sleep(every)
    return time.monotonic()


def test_a_burst_is_taken_in_before_its_jobs_run_then_all_run(store: Store) -> None:
    handled = Handled()
    worker = Worker(store, handled, poll_interval=0.05, yield_to_intake=10.0)
    running = start_worker_thread(worker)
    try:
        ended = _burst(store, worker, seconds=1.0)
        queued = store.queue_depth()
        deadline = time.monotonic() + 30
        while store.queue_depth() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        running.stop(timeout=10)
    assert queued > 0 and store.queue_depth() == 0
    assert handled.count() >= queued
    # The first few wake-ups are no burst yet; once they are, nothing more runs until the burst is over.
    during = [t for t in handled.times if t < ended - 0.1]
    assert len(during) <= CLAIM_BATCH * 2, f"{len(during)} deliveries were handled during the burst"


def test_a_flood_delays_its_jobs_no_longer_than_the_yield(store: Store) -> None:
    handled = Handled()
    worker = Worker(store, handled, poll_interval=0.05, yield_to_intake=0.5)
    running = start_worker_thread(worker)
    try:
        started = time.monotonic()
        ended = _burst(store, worker, seconds=4.0)
    finally:
        running.stop(timeout=10)
    late = [t for t in handled.times if t > started + 1.0]
    assert late and min(late) < ended - 1.0, "the worker waited for the whole flood instead of at most 0.5 s"


def test_a_lone_delivery_is_not_delayed(store: Store) -> None:
    handled = Handled()
    worker = Worker(store, handled, poll_interval=30, yield_to_intake=10.0)
    running = start_worker_thread(worker)
    try:
        time.sleep(0.1)
        store.accept("d-1", "push", None, b"{}")
        queued = time.monotonic()
        worker.wake()
        deadline = queued + 5
        while not handled.count() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        running.stop(timeout=10)
    assert handled.count() == 1 and handled.times[0] - queued < 2.0


class ClaimSizes:
    """The store, recording the size of each claim the worker asks for."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.limits: list[int] = []

    def claim_batch(self, worker_id: str, limit: int, lease_seconds: float = 300) -> Any:
        self.limits.append(limit)
        return self._store.claim_batch(worker_id, limit, lease_seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_backlog_is_drained_in_growing_claims_then_claims_are_small_again(store: Store) -> None:
    store.accept_many([(f"d-{n}", "push", None, b"{}") for n in range(300)])
    recorded = ClaimSizes(store)
    worker = Worker(recorded, lambda d: None, max_batch_size=MAX_CLAIM_BATCH)  # type: ignore[arg-type]
    while worker.run_once():
        pass
    assert store.queue_depth() == 0
    assert recorded.limits[:4] == [CLAIM_BATCH, CLAIM_BATCH * 2, CLAIM_BATCH * 4, CLAIM_BATCH * 8]
    assert max(recorded.limits) == MAX_CLAIM_BATCH
    assert len(recorded.limits) < 300 / CLAIM_BATCH / 3
    store.accept("late", "push", None, b"{}")
    assert worker.run_once() and recorded.limits[-1] == CLAIM_BATCH  # the backlog is gone: small claims again


def test_a_worker_process_keeps_its_claims_small_to_share_a_backlog(store: Store) -> None:
    store.accept_many([(f"d-{n}", "push", None, b"{}") for n in range(100)])
    recorded = ClaimSizes(store)
    worker = Worker(recorded, lambda d: None)  # type: ignore[arg-type]  # as `mlops-bot worker` builds it
    while worker.run_once():
        pass
    assert set(recorded.limits) == {CLAIM_BATCH} and store.queue_depth() == 0
