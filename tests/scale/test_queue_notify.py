"""On PostgreSQL a worker is woken by the queue's notifications, whichever replica queued the delivery, and
keeps being woken after its listening connection is cut (issue 12). Workers here poll only hourly: a
delivery handled within the test's wait was handled because of a notification."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from bot.adapters.store import Store
from bot.adapters.store.notify import QueueListener
from bot.core.events import Delivery
from bot.worker import Worker

HOURLY = 3600.0


@pytest.fixture
def two_replicas(postgres_database: str) -> Iterator[tuple[Store, Store]]:
    first = Store(postgres_database, auto_upgrade=True)
    yield first, Store(postgres_database)


def test_a_worker_is_woken_by_a_delivery_another_replica_queued(two_replicas: tuple[Store, Store]) -> None:
    mine, other = two_replicas
    handled: list[str] = []
    done = threading.Event()

    def handle(delivery: Delivery) -> None:
        handled.append(delivery.id)
        done.set()

    worker = Worker(mine, handle, poll_interval=HOURLY)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        for key in ("first", "second"):
            done.clear()
            other.enqueue(key, "ping", None, {})
            assert done.wait(30), f"{key}: the worker was not woken (it polls hourly)"
            time.sleep(1.0)  # the worker finishes it, finds the queue empty and waits: the next must wake it
    finally:
        stop.set()
        worker.wake()
        thread.join(timeout=30)
    assert handled == ["job:first", "job:second"]


def test_a_listener_whose_connection_is_cut_listens_again(two_replicas: tuple[Store, Store]) -> None:
    _, other = two_replicas
    woken = threading.Event()
    listener = QueueListener(other.url, woken.set, timeout_s=0.2, reconnect_s=0.2).start()
    try:
        assert listener.listening.wait(30)
        admin = create_engine(other.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:  # what a database restart or a dropped network does to it
            cut = conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")
            ).all()
        admin.dispose()
        assert cut == [(True,)]
        woken.clear()
        listener.listening.clear()
        assert listener.listening.wait(30), "the listener did not listen again"
        woken.clear()
        other.enqueue("after-the-cut", "ping", None, {})
        assert woken.wait(30)
    finally:
        listener.stop()
