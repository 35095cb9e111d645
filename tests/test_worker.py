from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.store import DONE, FAILED, QUEUED, Store
from bot.core.events import Delivery, PermanentError
from bot.metrics import Metrics
from bot.settings import Settings
from bot.worker import Worker, backoff_seconds, load_handler, log_only_handler, start_worker_thread
from tests.support.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """The store's "now": leases and backoff pass when a test advances it, not by sleeping."""
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}", clock=clock)
    yield store
    store.close()


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("attempt", "base", "low", "high"),
    [(1, 2.0, 1.5, 2.5), (2, 2.0, 3.0, 5.0), (5, 2.0, 24.0, 40.0), (40, 2.0, 2700.0, 4500.0)],
)
def test_backoff_doubles_with_jitter_and_is_capped(
    attempt: int, base: float, low: float, high: float
) -> None:
    delays = {backoff_seconds(attempt, base, rng=random.Random(seed)) for seed in range(20)}
    assert all(low <= d <= high for d in delays)
    assert len(delays) > 1  # jittered: deliveries that failed together do not retry together


def test_a_handler_that_keeps_failing_is_retried_with_backoff_then_failed(
    store: Store, clock: ManualClock
) -> None:
    calls: list[int] = []

    def flaky(delivery: Delivery) -> None:
        calls.append(delivery.attempts)
        raise ConnectionError("api.github.com unreachable")

    metrics = Metrics()
    worker = Worker(store, flaky, max_attempts=3, retry_base_seconds=10, metrics=metrics)
    store.accept("d-1", "issue_comment", "created", b"{}")

    assert worker.run_once() is True
    row = store.get("d-1")
    assert row is not None and row.status == QUEUED and row.available_at >= clock() + 7.5  # 10 s -25 %
    assert worker.run_once() is False  # backing off
    clock.advance(12.5)  # the first delay, +25 % at most
    assert worker.run_once() is True
    clock.advance(7.4)  # the second delay is at least 15 s
    assert worker.run_once() is False
    clock.advance(25 - 7.4)
    assert worker.run_once() is True

    assert calls == [1, 2, 3]
    row = store.get("d-1")
    assert row is not None
    assert (row.status, row.attempts) == (FAILED, 3)
    assert row.last_error == "ConnectionError: api.github.com unreachable"
    assert _sample(metrics, "mlops_bot_jobs_total", event="issue_comment", outcome="retry") == 2
    assert _sample(metrics, "mlops_bot_jobs_total", event="issue_comment", outcome="failed") == 1


def test_a_permanent_error_fails_at_once(store: Store) -> None:
    def refuse(delivery: Delivery) -> None:
        raise PermanentError("no .github/mlops-bot.yml on the default branch")

    worker = Worker(store, refuse, max_attempts=5)
    store.accept("d-1", "push", None, b"{}")
    worker.run_once()
    row = store.get("d-1")
    assert row is not None
    assert (row.status, row.attempts) == (FAILED, 1)
    assert row.last_error is not None and "mlops-bot.yml" in row.last_error
    assert worker.run_once() is False


def test_success_is_recorded_and_timed(store: Store) -> None:
    seen: list[str] = []
    metrics = Metrics()
    worker = Worker(store, lambda d: seen.append(d.name), metrics=metrics)
    store.accept("d-1", "pull_request", "closed", b'{"action": "closed"}')
    assert worker.run_once() is True
    assert seen == ["pull_request.closed"]
    row = store.get("d-1")
    assert row is not None and row.status == DONE and row.finished_at is not None
    assert _sample(metrics, "mlops_bot_jobs_total", event="pull_request", outcome="done") == 1
    assert _sample(metrics, "mlops_bot_job_duration_seconds_count", event="pull_request") == 1


def test_a_delivery_left_by_a_dead_worker_is_run_again_after_its_lease(
    store: Store, clock: ManualClock
) -> None:
    store.accept("d-1", "push", None, b"{}")
    assert store.claim("dead-worker", lease_seconds=300) is not None  # then the process was killed
    done: list[int] = []
    rescuer = Worker(store, lambda d: done.append(d.attempts), lease_seconds=30)
    assert rescuer.run_once() is False
    clock.advance(300)
    assert rescuer.run_once() is True
    assert done == [2]
    row = store.get("d-1")
    assert row is not None and row.status == DONE


def test_a_long_job_keeps_its_lease_by_heartbeat(store: Store) -> None:
    store.accept("d-1", "push", None, b"{}")
    started = threading.Event()

    def slow(delivery: Delivery) -> None:
        started.set()
        time.sleep(1.0)  # more than three leases

    worker = Worker(store, slow, lease_seconds=0.3)
    runner = threading.Thread(target=worker.run_once)
    runner.start()
    assert started.wait(5)
    other = Worker(store, lambda d: pytest.fail("the delivery was run twice"))
    for _ in range(8):
        time.sleep(0.1)
        assert other.run_once() is False
    runner.join()
    row = store.get("d-1")
    assert row is not None and (row.status, row.attempts) == (DONE, 1)


def test_a_delivery_that_crashes_every_worker_is_given_up(store: Store) -> None:
    store.accept("d-1", "push", None, b"{}")
    for _ in range(2):  # two attempts that never reported back
        store.claim("dead", lease_seconds=0.0)
    worker = Worker(store, lambda d: pytest.fail("must not run again"), max_attempts=2)
    assert worker.run_once() is True
    row = store.get("d-1")
    assert row is not None and row.status == FAILED
    assert row.last_error is not None and "never finished" in row.last_error


def test_the_worker_thread_wakes_up_for_new_work_and_stops(store: Store) -> None:
    handled = threading.Event()
    worker = Worker(store, lambda d: handled.set(), poll_interval=30)
    running = start_worker_thread(worker)
    try:
        time.sleep(0.1)  # idle: waiting for its 30 s poll
        store.accept("d-1", "push", None, b"{}")
        worker.wake()
        assert handled.wait(5)
    finally:
        running.stop(timeout=5)


def test_load_handler_by_spec() -> None:
    settings = Settings(webhook_secret="x")  # type: ignore[call-arg]
    assert load_handler(settings, "bot.worker:log_only_handler") is log_only_handler
    for bad in ("no-colon", "bot.worker:missing", "bot.nowhere:handle", "bot.worker:MAX_BACKOFF_SECONDS"):
        with pytest.raises(ValueError, match="handler"):
            load_handler(settings, bad)


class _GitHubAnswer(Exception):
    """Shaped like PyGithub's GithubException: `status` and `data`."""

    def __init__(self, status: int) -> None:
        super().__init__(f"{status} raw PyGithub text")
        self.status, self.data = status, {"message": "Validation Failed" if status == 422 else "Not Found"}


@pytest.mark.parametrize("status", [404, 410, 422])
def test_a_permanent_github_answer_ends_done_with_a_note_at_once(store: Store, status: int) -> None:
    def gone(delivery: Delivery) -> None:
        try:
            raise _GitHubAnswer(status)
        except _GitHubAnswer as exc:
            raise RuntimeError("commenting on #7 of acme/model") from exc

    store.accept("d-gone", "issue_comment", "created", b'{"repository": {"full_name": "acme/model"}}')
    assert Worker(store, gone, max_attempts=5, retry_base_seconds=0.01).run_once() is True
    row = store.get("d-gone")
    assert row is not None and (row.status, row.attempts, row.last_error) == (DONE, 1, None)
    assert row.note is not None and row.note.startswith("ignored issue_comment.created on acme/model")
    assert str(status) in row.note and "commenting on #7" in row.note


def test_a_server_error_is_still_retried(store: Store) -> None:
    def down(delivery: Delivery) -> None:
        raise _GitHubAnswer(502)

    store.accept("d-502", "issue_comment", "created", b"{}")
    Worker(store, down, max_attempts=5, retry_base_seconds=0.01).run_once()
    row = store.get("d-502")
    assert row is not None and row.status == QUEUED and row.note is None
