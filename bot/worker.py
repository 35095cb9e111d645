"""The worker: claims deliveries from the store, runs the handler, records the outcome.

- A handler raising `PermanentError` fails the delivery at once. `Ignored`, or a permanent GitHub answer
  (404/410/422: the comment or repository is gone, the App cannot see it), ends it `done` with a note
  saying what was ignored and why. Any other exception is retried with exponential backoff and jitter,
  up to `max_attempts`, then the delivery is `failed` with its last error.
- The lease on a delivery is renewed while its handler runs; a worker that dies (even `kill -9`) leaves a
  lease that expires, and the delivery is claimed again. Handlers are idempotent (keyed effects), so a
  re-run after a crash completes the work once in effect.
- One claim takes a batch (up to `CLAIM_BATCH` due deliveries, fair across repositories) in one transaction.
  What the worker has not started goes back to the queue when it stops, or once a long delivery has held the
  batch `batch_hold_seconds`; a worker that dies leaves leases that expire, as for one delivery.
- A delivery whose attempts all ended in a lost lease (a handler that crashes the process) is given up
  after `max_attempts` instead of crashing workers forever.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bot.core.events import Delivery, Ignored, PermanentError, permanent_answer
from bot.logs import delivery_context

if TYPE_CHECKING:
    from bot.adapters.store import Store
    from bot.adapters.store.notify import QueueListener
    from bot.metrics import Metrics
    from bot.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[Delivery], None]

MAX_BACKOFF_SECONDS = 3600.0
CLAIM_BATCH = 8  # deliveries one claim takes (one transaction instead of eight)
# The web process's own worker, alone on its queue: while claims come back full (a backlog), each takes twice as
# many, up to this. A fair claim ranks every due delivery, so its cost grows with the backlog, and eight at a time
# made draining one quadratic. Separate `mlops-bot worker` processes keep to CLAIM_BATCH, so that they share a
# backlog (and a killed one leaves at most that many to rescue).
MAX_CLAIM_BATCH = 256
# A burst: this many deliveries queued within BURST_WINDOW seconds (~160/s; one installation's webhooks come
# far slower). The web process's worker thread holds the GIL while it works, so during a burst it lets the
# intake take the deliveries in first (`yield_to_intake`).
BURST_ARRIVALS = 8
BURST_WINDOW = 0.05
_MAX_ERROR_CHARS = 2000


def backoff_seconds(attempt: int, base: float, *, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1-based): base * 2^(attempt-1), +-25% jitter, capped at an hour.

    The jitter spreads the retries of many deliveries that failed together (an outage) over time.
    """
    exponential = min(MAX_BACKOFF_SECONDS, base * 2.0 ** max(0, attempt - 1))
    jitter: float = (rng or random).uniform(0.75, 1.25)
    return exponential * jitter


def describe_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:_MAX_ERROR_CHARS]


def ignored_note(error: BaseException, what: str) -> str | None:
    """The note ending delivery `what` when `error`, or what caused it, is `Ignored` or a GitHub answer no
    retry changes (404/410/422); None when a retry may still succeed."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Ignored):
            return f"ignored {what}: {current}"
        status = getattr(current, "status", None)  # PyGithub's GithubException, duck-typed (no import here)
        if isinstance(status, int):
            data = getattr(current, "data", None)
            message = str(data.get("message", "")) if isinstance(data, dict) else ""
            note = permanent_answer(status, message)
            if note is None:
                return None
            # A wrapping error of ours says which call met the answer; PyGithub's own text adds nothing.
            said = f" ({str(error)[:300]})" if current is not error and str(error) else ""
            return f"{note.replace('ignored:', f'ignored {what}:', 1)}{said}"
        current = current.__cause__ or current.__context__
    return None


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        store: Store,
        handle: Handler,
        *,
        worker_id: str | None = None,
        poll_interval: float = 1.0,
        max_attempts: int = 5,
        retry_base_seconds: float = 2.0,
        lease_seconds: float = 300.0,
        metrics: Metrics | None = None,
        batch_size: int = CLAIM_BATCH,
        batch_hold_seconds: float = 1.0,
        yield_to_intake: float = 0.0,
        max_batch_size: int | None = None,
    ) -> None:
        self.store = store
        self.handle = handle
        self.worker_id = worker_id or default_worker_id()
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.lease_seconds = lease_seconds
        self.metrics = metrics
        self.batch_size = max(1, batch_size)
        self.max_batch_size = max(
            self.batch_size, max_batch_size or self.batch_size
        )  # growing claims: see above
        self._claim_size = self.batch_size
        # What a batch's unstarted deliveries may wait behind the one running before they go back to the queue
        # for any worker; well inside their lease, which only the running delivery's keeper renews.
        self.batch_hold_seconds = min(batch_hold_seconds, lease_seconds / 3)
        # At most this many seconds of a backlog's wait are spent letting a burst of deliveries in first (the
        # web process's own worker thread; 0 for `mlops-bot worker` processes, which share no GIL with intake).
        self.yield_to_intake = yield_to_intake
        self._arrivals: collections.deque[float] = collections.deque(maxlen=BURST_ARRIVALS)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._leases = _Leases(store, self.worker_id, lease_seconds)

    def wake(self) -> None:
        """Look at the queue now instead of at the next poll (the app calls this after queueing)."""
        self._arrivals.append(time.monotonic())
        self._wake.set()

    def _burst(self) -> bool:
        """Whether the last BURST_ARRIVALS wake-ups all came within BURST_WINDOW seconds of now."""
        arrivals = list(self._arrivals)
        return len(arrivals) == BURST_ARRIVALS and time.monotonic() - arrivals[0] < BURST_WINDOW

    def _let_intake_in(self, stop: threading.Event, budget: float) -> float:
        """While deliveries arrive in a burst, wait (at most `budget` seconds), so the web process answers
        them before its worker thread competes for the GIL; a lone delivery is never delayed. The seconds
        waited."""
        started = time.monotonic()
        while budget > 0 and self._burst() and time.monotonic() - started < budget and not stop.is_set():
            stop.wait(BURST_WINDOW / 2)
        return time.monotonic() - started

    def run_once(self) -> bool:
        """Claim up to `batch_size` due deliveries in one transaction and process them in order (twice as many
        as the last claim while claims come back full, up to `max_batch_size`). False when nothing was due.
        Deliveries of the batch not started when the worker stops, or once the batch has been held
        `batch_hold_seconds` (a long job ahead of them), go back to the queue at once; if the worker dies
        instead, their leases expire, as a single claim's does."""
        claimed = self.store.claim_batch(self.worker_id, self._claim_size, self.lease_seconds)
        full = len(claimed) == self._claim_size
        self._claim_size = min(self.max_batch_size, self._claim_size * 2) if full else self.batch_size
        if not claimed:
            return False
        batch = _Batch(self.store, self.worker_id, claimed)
        try:
            with self._leases.watching(batch, self.batch_hold_seconds):
                while (delivery := batch.next(stopping=self._stopping.is_set())) is not None:
                    self._run_claimed(delivery)
        finally:
            batch.release_rest()
        return True

    def _run_claimed(self, delivery: Delivery) -> None:
        if delivery.attempts > self.max_attempts:
            # Earlier attempts ended without an outcome: the worker died or lost its lease each time.
            error = (
                f"gave up after {self.max_attempts} attempts that never finished (worker died or timed out)"
            )
            self.store.fail(delivery.id, self.worker_id, error, retry_in=None)
            self._count(delivery, "failed", 0.0)
            return
        self._process(delivery)

    def run_forever(self, stop: threading.Event) -> None:
        from bot.adapters.store import ProcessBeacon

        listener = self._listener()
        how = "woken by PostgreSQL notifications, " if listener is not None else ""
        log.info("worker %s %spolling every %.1fs", self.worker_id, how, self.poll_interval)
        try:
            with ProcessBeacon(self.store, "worker", self.worker_id):
                self._poll_until(stop)
        finally:
            if listener is not None:
                listener.stop()

    def _listener(self) -> QueueListener | None:
        """On PostgreSQL, a thread that wakes this worker whenever any replica queues a delivery."""
        if getattr(self.store, "dialect", None) != "postgresql":  # SQLite: the app wakes its own worker
            return None
        from bot.adapters.store.notify import QueueListener

        return QueueListener(self.store.url, self.wake).start()

    def _poll_until(self, stop: threading.Event) -> None:
        self._stopping = stop  # a batch stops between deliveries too
        yielded = 0.0  # seconds of the current backlog's wait given to a burst of intake
        while not stop.is_set():
            yielded += self._let_intake_in(stop, self.yield_to_intake - yielded)
            try:
                worked = self.run_once()
            except Exception:  # the database is unreachable: keep the worker alive and try again later
                log.exception("worker %s could not reach the store", self.worker_id)
                worked = False
            if not worked:
                yielded = 0.0  # the backlog is gone: the next burst may wait again
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    def _process(self, delivery: Delivery) -> None:
        started = time.monotonic()
        outcome = "done"
        try:
            with (
                delivery_context(delivery=delivery.id, repo=delivery.repo, pr=_pr_of(delivery)),
                self._leases.holding(delivery.id),
            ):
                self.handle(delivery)
        except PermanentError as error:
            outcome = "failed"
            log.warning("delivery %s (%s) failed permanently: %s", delivery.id, delivery.name, error)
            self.store.fail(delivery.id, self.worker_id, describe_error(error), retry_in=None)
        except Exception as error:
            note = ignored_note(error, f"{delivery.name} on {delivery.repo or 'no repository'}")
            if note is not None:
                log.info("delivery %s (%s) %s", delivery.id, delivery.name, note)
                self.store.complete(delivery.id, self.worker_id, note=note)
            elif delivery.attempts >= self.max_attempts:
                outcome = "failed"
                log.exception("delivery %s (%s) failed after %d attempts", delivery.id, delivery.name,
                              delivery.attempts)  # fmt: skip
                self.store.fail(delivery.id, self.worker_id, describe_error(error), retry_in=None)
            else:
                outcome = "retry"
                delay = backoff_seconds(delivery.attempts, self.retry_base_seconds)
                log.warning("delivery %s (%s) attempt %d failed, retrying in %.1fs: %s", delivery.id,
                            delivery.name, delivery.attempts, delay, describe_error(error))  # fmt: skip
                self.store.fail(delivery.id, self.worker_id, describe_error(error), retry_in=delay)
        else:
            self.store.complete(delivery.id, self.worker_id)
        self._count(delivery, outcome, time.monotonic() - started)

    def _count(self, delivery: Delivery, outcome: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.job(delivery.event, outcome, seconds)


class _Batch:
    """The deliveries one claim took, handed out in order; `release_rest` gives back those not yet started."""

    def __init__(self, store: Store, worker_id: str, claimed: list[Delivery]) -> None:
        self._store, self._worker_id = store, worker_id
        self._waiting = list(claimed)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._waiting)

    def next(self, *, stopping: bool) -> Delivery | None:
        with self._lock:
            if stopping or not self._waiting:
                return None
            return self._waiting.pop(0)

    def release_rest(self) -> None:
        with self._lock:
            rest, self._waiting = [d.id for d in self._waiting], []
            if not rest:
                return
            try:
                released = self._store.release(rest, self._worker_id)
            except Exception:  # their leases expire instead, and another claim takes them then
                log.exception("could not give back %d claimed deliveries", len(rest))
                return
        log.info("gave back %d of %d claimed deliveries not started", released, len(rest))


class _Leases:
    """The worker's one keeper thread, for its whole life (a thread per delivery or per batch cost intake CPU,
    issue 12): every third of the lease it renews the leases of the deliveries being run, and it gives back the
    rest of a batch once the batch has been held its hold time (a long job at its head keeps nothing from other
    workers)."""

    def __init__(self, store: Store, worker_id: str, lease_seconds: float) -> None:
        self._store, self._worker_id, self._lease_seconds = store, worker_id, lease_seconds
        self._held: set[str] = set()
        self._batches: dict[int, tuple[float, _Batch]] = {}  # id(batch) -> (give back at, batch)
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def holding(self, delivery_id: str) -> Iterator[None]:
        with self._changed:
            self._held.add(delivery_id)
            self._start()
        try:
            yield
        finally:
            with self._changed:
                self._held.discard(delivery_id)

    @contextlib.contextmanager
    def watching(self, batch: _Batch, hold_seconds: float) -> Iterator[None]:
        if len(batch) <= 1:
            yield
            return
        with self._changed:
            self._batches[id(batch)] = (time.monotonic() + hold_seconds, batch)
            self._start()
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._batches.pop(id(batch), None)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mlops-bot-leases", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        renew_at = time.monotonic() + self._lease_seconds / 3
        while True:
            with self._changed:
                now = time.monotonic()
                next_at = min([renew_at, *(at for at, _ in self._batches.values())])
                if next_at > now:
                    self._changed.wait(next_at - now)
                    continue
                due = [batch for at, batch in self._batches.values() if at <= now]
                for batch in due:
                    self._batches.pop(id(batch), None)
                held: list[str] = []
                if now >= renew_at:
                    renew_at, held = now + self._lease_seconds / 3, sorted(self._held)
            for batch in due:
                batch.release_rest()
            if held:
                self._renew(held)

    def _renew(self, held: list[str]) -> None:
        try:
            renewed = self._store.heartbeat_many(held, self._worker_id, self._lease_seconds)
        except Exception:
            log.exception("could not renew the leases of %s", ", ".join(held))
            return
        if renewed < len(held):
            log.warning("a lease of %s was lost; another worker may run it too", ", ".join(held))


class WorkerThread:
    """A worker running in a daemon thread of the web process (`settings.inprocess_worker`)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=worker.run_forever, args=(self._stop,), name="mlops-bot-worker", daemon=True
        )

    def start(self) -> WorkerThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to stop after its current job. A job still running at exit is re-run by a
        later worker when its lease expires."""
        self._stop.set()
        self.worker.wake()
        self._thread.join(timeout)


def start_worker_thread(worker: Worker) -> WorkerThread:
    return WorkerThread(worker).start()


def log_only_handler(delivery: Delivery) -> None:
    """Stands in until real handlers exist: records that the delivery was seen."""
    log.info("delivery %s (%s) from %s: no handler configured", delivery.id, delivery.name, delivery.repo)


def load_handler(settings: Settings, spec: str | None = None) -> Handler:
    """The handler the worker runs.

    `spec` (`module:function`, e.g. from `MLOPS_BOT_HANDLER` or `--handler`) names a callable taking a
    Delivery. Otherwise `bot.handlers.build_handler(settings)`, or `bot.handlers.handle`; when neither
    exists yet, a handler that only logs. Imported here, lazily, so the web process stays light.
    """
    if spec:
        return _import_callable(spec)
    try:
        handlers = importlib.import_module("bot.handlers")
    except ImportError:
        return log_only_handler
    build = getattr(handlers, "build_handler", None)
    if callable(build):
        handler: Handler = build(settings)
        return handler
    handle = getattr(handlers, "handle", None)
    if callable(handle):
        return handle  # type: ignore[no-any-return]
    return log_only_handler


def _import_callable(spec: str) -> Handler:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"handler {spec!r} must look like 'package.module:function'")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"cannot load handler {spec!r}: {error}") from error
    if not callable(target):
        raise ValueError(f"handler {spec!r} is not callable")
    return target  # type: ignore[no-any-return]


def _pr_of(delivery: Delivery) -> int | None:
    """The pull request or issue a delivery is about, for the log lines written while it is handled."""
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    for key in ("pull_request", "issue"):
        item = payload.get(key)
        if isinstance(item, dict) and isinstance(item.get("number"), int):
            return int(item["number"])
    params = payload.get("params")
    value = params.get("pr") if isinstance(params, dict) else None
    return int(value) if isinstance(value, int) else None
