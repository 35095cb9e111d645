"""Batch claims (issue 12): a worker takes up to N due deliveries in one transaction, fairly across repositories,
on SQLite and on a real PostgreSQL; a batch whose worker dies comes back when its leases end, and what a worker
gives back is queued again without counting an attempt."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bot.adapters.store import DONE, QUEUED, RUNNING, Store
from bot.core.events import Delivery
from bot.worker import Worker
from tests.adapters import test_store as stores
from tests.support.clock import ManualClock

# The same two stores as tests/adapters/test_store.py: a SQLite file and a real PostgreSQL.
clock, postgres_url, store = stores.clock, stores.postgres_url, stores.store


def _accept(store: Store, clock: ManualClock, name: str, repository: str) -> None:
    store.accept(name, "push", None, b"{}", repository=repository)
    clock.advance(1)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_batch_takes_every_repositorys_oldest_first_then_their_next(
    store: Store, clock: ManualClock
) -> None:
    for n in range(5):
        _accept(store, clock, f"a-{n}", "acme/a")
    for n in range(2):
        _accept(store, clock, f"b-{n}", "acme/b")

    batch = store.claim_batch("w", 4, lease_seconds=60)
    assert [d.id for d in batch] == ["a-0", "b-0", "a-1", "b-1"]  # a backlog of acme/a does not fill it
    assert all(d.attempts == 1 for d in batch)
    rows = [store.get(d.id) for d in batch]
    assert all(r is not None and (r.status, r.lease_owner) == (RUNNING, "w") for r in rows)
    rest = store.claim_batch("v", 10)
    assert [d.id for d in rest] == ["a-2", "a-3", "a-4"]  # nobody else gets what "w" holds
    assert store.claim_batch("u", 10) == []


def test_a_batch_whose_worker_died_is_claimed_again_when_its_leases_end(
    store: Store, clock: ManualClock
) -> None:
    for n in range(3):
        _accept(store, clock, f"d-{n}", "acme/a")
    assert len(store.claim_batch("crashed", 3, lease_seconds=60)) == 3
    clock.advance(59)
    assert store.claim_batch("rescuer", 3) == []
    clock.advance(2)
    again = store.claim_batch("rescuer", 3, lease_seconds=60)
    assert [(d.id, d.attempts) for d in again] == [("d-0", 2), ("d-1", 2), ("d-2", 2)]
    assert store.complete("d-0", "crashed") is False  # the dead worker's late result is dropped
    assert store.complete("d-0", "rescuer") is True


def test_what_a_worker_gives_back_is_queued_again_without_counting_an_attempt(
    store: Store, clock: ManualClock
) -> None:
    for n in range(3):
        _accept(store, clock, f"d-{n}", "acme/a")
    ids = [d.id for d in store.claim_batch("w", 3)]
    assert store.release(ids[1:], "someone-else") == 0  # only the holder gives back
    assert store.release(ids[1:], "w") == 2
    for name in ids[1:]:
        row = store.get(name)
        assert row is not None and (row.status, row.attempts, row.lease_owner) == (QUEUED, 0, None)
    assert [(d.id, d.attempts) for d in store.claim_batch("v", 3)] == [("d-1", 1), ("d-2", 1)]


def test_concurrent_batch_claims_never_share_a_delivery(store: Store) -> None:
    store.accept_many([(f"d-{n}", "push", None, b"{}") for n in range(60)])
    claimed: list[str] = []
    guard = threading.Lock()

    def drain(worker: str) -> None:
        while batch := store.claim_batch(worker, 7):
            with guard:
                claimed.extend(d.id for d in batch)
            for delivery in batch:
                assert store.complete(delivery.id, worker)

    threads = [threading.Thread(target=drain, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(f"d-{n}" for n in range(60))
    assert store.queue_depth() == 0


# ---- the worker ------------------------------------------------------------------------------------------


def test_a_worker_runs_what_one_claim_took_in_order(store: Store, clock: ManualClock) -> None:
    for n in range(5):
        _accept(store, clock, f"d-{n}", "acme/a")
    seen: list[str] = []
    claims: list[int] = []
    claim_batch = store.claim_batch

    def counted(*args: object, **kwargs: object) -> list[Delivery]:
        taken = claim_batch(*args, **kwargs)  # type: ignore[arg-type]
        claims.append(len(taken))
        return taken

    store.claim_batch = counted  # type: ignore[method-assign]
    worker = Worker(store, lambda d: seen.append(d.id), batch_size=8)
    assert worker.run_once() is True
    assert seen == [f"d-{n}" for n in range(5)] and claims == [5]
    assert [r.status for r in store.list()] == [DONE] * 5


def test_a_long_delivery_gives_the_rest_of_its_batch_back_to_other_workers(
    store: Store, clock: ManualClock
) -> None:
    _accept(store, clock, "slow", "acme/a")
    _accept(store, clock, "quick", "acme/a")
    release = threading.Event()
    taken_by_other: list[str] = []

    def other_worker_claims() -> bool:
        taken_by_other.extend(d.id for d in store.claim_batch("other", 5))
        return bool(taken_by_other)

    def handler(delivery: Delivery) -> None:
        if delivery.id == "slow":
            # Meanwhile another worker can claim what this worker's batch held behind the slow delivery.
            _wait_for(other_worker_claims, "the rest of the batch to be given back")
            release.set()

    worker = Worker(store, handler, batch_size=2, batch_hold_seconds=0.05)
    assert worker.run_once() is True
    assert release.is_set() and taken_by_other == ["quick"]
    row = store.get("quick")
    assert row is not None and (row.lease_owner, row.attempts) == (
        "other",
        1,
    )  # not run twice, not charged twice
    slow = store.get("slow")
    assert slow is not None and slow.status == DONE


def test_a_worker_stopped_mid_batch_gives_back_what_it_had_not_started(
    store: Store, clock: ManualClock
) -> None:
    for n in range(3):
        _accept(store, clock, f"d-{n}", "acme/a")
    stop = threading.Event()
    seen: list[str] = []

    def handler(delivery: Delivery) -> None:
        seen.append(delivery.id)
        stop.set()  # e.g. SIGTERM while the first delivery runs

    worker = Worker(store, handler, batch_size=3, batch_hold_seconds=60)
    worker.run_forever(stop)
    assert seen == ["d-0"]
    for name in ("d-1", "d-2"):
        row = store.get(name)
        assert row is not None and (row.status, row.attempts, row.lease_owner) == (QUEUED, 0, None)
