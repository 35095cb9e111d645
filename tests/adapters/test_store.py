"""The durable store on a real SQLite file, and the same tests on a real PostgreSQL: the server named by
MLOPS_BOT_TEST_POSTGRES_URL (CI), else one this module starts when the binaries are installed."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters import migrations
from bot.adapters.store import (
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    SCHEMA_REVISION,
    LockTimeout,
    ProcessBeacon,
    Store,
)
from bot.adapters.store.schema import read_schema_status
from tests.scale.postgres import fresh_database, server_url
from tests.support.clock import ManualClock


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A migrated database on a real PostgreSQL server, or a skip when there is none."""
    pytest.importorskip("psycopg")
    with _postgres_server() as server, fresh_database(server) as url:
        migrations.upgrade(url)
        yield url


@contextlib.contextmanager
def _postgres_server() -> Iterator[str]:
    """MLOPS_BOT_TEST_POSTGRES_URL, or a throwaway server on loopback (initdb + pg_ctl)."""
    configured = server_url()
    if configured:
        yield configured
        return
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
    # PostgreSQL refuses to run as root: run it as the `postgres` user then.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="mlops-bot-pg-"))
    if as_user:
        shutil.chown(base, "postgres")
    data, port = base / "data", _free_port()
    try:
        initdb = ["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]
        subprocess.run([*as_user, *initdb], check=True, capture_output=True)
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = ["pg_ctl", "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"]
        subprocess.run([*as_user, *start], check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError) as error:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {error}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, "pg_ctl", "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def clock() -> ManualClock:
    """What "now" is for the store under test: leases and backoff pass when the test says, not by sleeping."""
    return ManualClock()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bot.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = Store(url, clock=clock)
    yield store
    if request.param == "postgresql":
        from sqlalchemy import text

        with store._engine.begin() as conn:  # one database for the module: leave it empty
            conn.execute(text("DELETE FROM deliveries"))
            conn.execute(text("DELETE FROM locks"))
            conn.execute(text("DELETE FROM processes"))
            conn.execute(text("DELETE FROM queue_turns"))
    store.close()


def test_a_redelivery_is_recorded_once(store: Store) -> None:
    assert store.accept("d-1", "issue_comment", "created", b'{"n": 1}') is True
    assert store.accept("d-1", "issue_comment", "created", b'{"n": 1}') is False
    assert [r.id for r in store.list()] == ["d-1"]
    assert store.queue_depth() == 1


def test_a_batch_answers_per_delivery_and_keeps_the_first_copy(store: Store) -> None:
    store.accept("seen", "push", None, b"{}")
    results = store.accept_many(
        [
            ("new-1", "push", None, b'{"copy": 1}'),
            ("seen", "push", None, b"{}"),
            ("new-1", "push", None, b'{"copy": 2}'),
            ("new-2", "pull_request", "opened", b"{}"),
        ]
    )
    assert results == [True, False, False, True]
    assert store.queue_depth() == 3
    claimed = {d.id: d for d in iter(lambda: store.claim("w"), None)}
    assert claimed["new-1"].payload == {"copy": 1}


def test_the_bots_own_jobs_are_deduplicated_by_key(store: Store) -> None:
    assert store.enqueue("reconcile:churn", "reconcile", None, {"model": "churn"}) is True
    assert store.enqueue("reconcile:churn", "reconcile", None, {"model": "churn"}) is False
    job = store.claim("w")
    assert job is not None
    assert (job.id, job.event, job.payload) == ("job:reconcile:churn", "reconcile", {"model": "churn"})


def test_claim_leases_one_delivery_and_decodes_it(store: Store) -> None:
    store.accept("d-1", "issue_comment", "created", b'{"repository": {"full_name": "acme/churn"}}')
    delivery = store.claim("worker-a", lease_seconds=60)
    assert delivery is not None
    assert (delivery.name, delivery.repo, delivery.attempts) == ("issue_comment.created", "acme/churn", 1)
    assert store.claim("worker-b") is None  # leased: nobody else gets it
    row = store.get("d-1")
    assert row is not None and (row.status, row.lease_owner) == (RUNNING, "worker-a")


def test_deliveries_are_claimed_oldest_first(store: Store, clock: ManualClock) -> None:
    for n in range(3):
        store.accept(f"d-{n}", "push", None, b"{}")
        clock.advance(1)
    assert [store.claim("w").id for _ in range(3)] == ["d-0", "d-1", "d-2"]  # type: ignore[union-attr]


def test_an_expired_lease_is_claimed_again_and_the_old_owner_cannot_finish(
    store: Store, clock: ManualClock
) -> None:
    store.accept("d-1", "push", None, b"{}")
    assert store.claim("crashed", lease_seconds=60) is not None
    clock.advance(59.9)
    assert store.claim("rescuer") is None
    clock.advance(0.2)
    again = store.claim("rescuer", lease_seconds=60)
    assert again is not None and again.attempts == 2
    assert store.heartbeat("d-1", "crashed", 60) is False
    assert store.complete("d-1", "crashed") is False  # its result is dropped: the rescuer owns the delivery
    assert store.complete("d-1", "rescuer", note="ok") is True
    row = store.get("d-1")
    assert row is not None and (row.status, row.note, row.lease_owner) == (DONE, "ok", None)


def test_heartbeat_keeps_the_lease(store: Store, clock: ManualClock) -> None:
    store.accept("d-1", "push", None, b"{}")
    store.claim("w", lease_seconds=60)
    for _ in range(3):
        clock.advance(40)
        assert store.heartbeat("d-1", "w", 60) is True
    assert store.claim("other") is None  # 120 s after a 60 s lease: still held, thanks to the beats
    clock.advance(61)
    assert store.claim("other") is not None  # the beats stopped: the lease ran out


def test_a_retry_waits_for_its_backoff_and_keeps_the_error_visible(store: Store, clock: ManualClock) -> None:
    store.accept("d-1", "push", None, b"{}")
    store.claim("w")
    assert store.fail("d-1", "w", "TimeoutError: github.com slow", retry_in=30) is True
    row = store.get("d-1")
    assert row is not None and (row.status, row.last_error) == (QUEUED, "TimeoutError: github.com slow")
    clock.advance(29.9)
    assert store.claim("w") is None  # not due yet
    clock.advance(0.2)
    assert store.claim("w") is not None


def test_a_permanent_failure_stays_failed_until_requeued(store: Store) -> None:
    store.accept("d-1", "push", None, b"{}")
    store.claim("w")
    store.fail("d-1", "w", "PermanentError: no .github/mlops-bot.yml", retry_in=None)
    assert [r.id for r in store.list(status=FAILED)] == ["d-1"]
    assert store.claim("w") is None
    assert store.queue_depth() == 0
    assert store.requeue("d-1") is True
    assert store.requeue("d-1") is False  # queued already
    delivery = store.claim("w")
    assert delivery is not None and delivery.attempts == 1


def test_list_is_newest_first_and_filters_by_status(store: Store, clock: ManualClock) -> None:
    for n in range(4):
        store.accept(f"d-{n}", "push", None, b"{}")
        clock.advance(1)
    store.claim("w")
    store.complete("d-0", "w")
    assert [r.id for r in store.list()] == ["d-3", "d-2", "d-1", "d-0"]
    assert [r.id for r in store.list(limit=2)] == ["d-3", "d-2"]
    assert [r.id for r in store.list(status=DONE)] == ["d-0"]
    assert store.list()[0].to_dict()["status"] == QUEUED


def test_concurrent_workers_never_share_a_delivery(store: Store) -> None:
    store.accept_many([(f"d-{n}", "push", None, b"{}") for n in range(40)])
    claimed: list[str] = []
    guard = threading.Lock()

    def drain(worker: str) -> None:
        while (delivery := store.claim(worker)) is not None:
            with guard:
                claimed.append(delivery.id)
            store.complete(delivery.id, worker)

    threads = [threading.Thread(target=drain, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(f"d-{n}" for n in range(40))
    assert store.queue_depth() == 0


def test_a_named_lock_excludes_other_holders_until_released(store: Store) -> None:
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.lock("promote:churn"):
            entered.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(5)
    assert store.lock_owner("promote:churn") is not None
    busy = store.lock("promote:churn", timeout=0.3, poll=0.05)
    with pytest.raises(LockTimeout, match="promote:churn"), busy:
        pass
    with store.lock("promote:other", timeout=0.3):  # another model is not blocked
        pass
    release.set()
    holder.join()
    assert store.lock_owner("promote:churn") is None
    with store.lock("promote:churn", timeout=1):
        pass


def test_a_lock_whose_holder_died_frees_itself_when_its_lease_ends(store: Store, clock: ManualClock) -> None:
    from sqlalchemy import insert

    from bot.adapters.store import locks

    with store._engine.begin() as conn:  # a row left by a process killed while holding the lock
        conn.execute(insert(locks).values(name="promote:churn", owner="dead", expires_at=clock() + 600))
    with pytest.raises(LockTimeout), store.lock("promote:churn", timeout=0.1, poll=0.02):
        pass  # its lease still runs
    assert store.lock_owner("promote:churn") == "dead"
    clock.advance(600)
    with store.lock("promote:churn", timeout=0, poll=0.02):
        assert store.lock_owner("promote:churn") not in (None, "dead")


def test_a_long_holder_keeps_its_lock_past_the_lease(store: Store, clock: ManualClock) -> None:
    with store.lock("promote:churn", lease_seconds=0.3):
        clock.advance(0.6)  # past the lease: only the background renewal (every 0.1 s) keeps the lock
        deadline = time.monotonic() + 5
        while store.lock_owner("promote:churn") is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.lock_owner("promote:churn") is not None
        with pytest.raises(LockTimeout), store.lock("promote:churn", timeout=0.2, poll=0.05):
            pass


def test_two_stores_on_one_sqlite_file_share_the_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    web, worker = Store(url), Store(url)
    assert web.accept("d-1", "push", None, b"{}") is True
    assert worker.accept("d-1", "push", None, b"{}") is False
    delivery = worker.claim("w")
    assert delivery is not None and delivery.id == "d-1"
    web.close()
    worker.close()


# ---- schema -----------------------------------------------------------------------------------------


def test_a_new_sqlite_file_gets_the_current_schema_with_no_setup(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    with store._engine.connect() as conn:
        assert read_schema_status(conn).revision == SCHEMA_REVISION
    assert store.accept("d-1", "push", None, b"{}") is True
    store.close()


def test_a_sqlite_file_from_before_migrations_is_adopted_with_its_rows(tmp_path: Path) -> None:
    """The schema an older mlops-bot created (no version table) is revision 0001: stamped, then upgraded."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrations.upgrade(url, "0001")
    import sqlite3

    with sqlite3.connect(tmp_path / "bot.db") as db:
        db.execute("DROP TABLE mlops_bot_schema_version")
        db.execute(
            "INSERT INTO deliveries (id, event, payload, status, attempts, available_at, received_at, updated_at)"
            " VALUES ('old-1', 'push', X'7B7D', 'queued', 0, 0, 0, 0)"
        )
    store = Store(url)
    delivery = store.claim("w")
    assert delivery is not None and delivery.id == "old-1"
    store.register_process("w", "worker")  # a table of revision 0002
    store.close()


# ---- live processes ---------------------------------------------------------------------------------


def test_processes_are_live_while_they_beat(store: Store, clock: ManualClock) -> None:
    store.register_process("web-1", "serve")
    store.register_process("worker-1", "worker")
    assert [p.id for p in store.live_processes()] == ["web-1", "worker-1"]
    assert [p.id for p in store.live_processes("worker")] == ["worker-1"]
    clock.advance(0.6)
    assert store.process_heartbeat("worker-1") is True
    assert [p.id for p in store.live_processes(within=0.45)] == ["worker-1"]  # web-1 went silent
    store.unregister_process("worker-1")
    assert store.process_heartbeat("worker-1") is False
    assert [p.id for p in store.live_processes()] == ["web-1"]


def test_a_beacon_lists_its_process_while_it_runs(store: Store) -> None:
    with ProcessBeacon(store, "worker", "w-1", interval=0.05):
        live = store.live_processes("worker")
        assert [(p.id, p.role, p.pid) for p in live] == [("w-1", "worker", os.getpid())]
        store.unregister_process("w-1")  # e.g. pruned by another process after a long pause
        deadline = time.monotonic() + 5
        while not store.live_processes("worker") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [p.id for p in store.live_processes("worker")] == ["w-1"]  # it registered again
    assert store.live_processes() == []


# ---- fairness across repositories (issue 18, finding 5) ---------------------------------------------


def test_one_repositorys_backlog_does_not_starve_another(store: Store) -> None:
    for n in range(50):
        store.accept(f"a-{n}", "issue_comment", "created", b"{}", repository="acme/a")
    store.accept("b-0", "issue_comment", "created", b"{}", repository="acme/b")
    first_two = [store.claim("w").id for _ in range(2)]  # type: ignore[union-attr]
    assert "b-0" in first_two


def test_the_bots_own_jobs_take_turns_by_repository(store: Store) -> None:
    for n in range(50):
        store.enqueue(f"train:a-{n}", "mlops-bot", "train", {"repository": {"full_name": "acme/a"}})
    store.enqueue("train:b", "mlops-bot", "train", {"repository": {"full_name": "acme/b"}})
    first_two = [store.claim("w").id for _ in range(2)]  # type: ignore[union-attr]
    assert "job:train:b" in first_two


def test_claims_alternate_between_busy_repositories_and_keep_order_within_one(
    store: Store, clock: ManualClock
) -> None:
    for n in range(3):
        # Each arrives a second after the last: with equal times, PostgreSQL's order of ties is the heap's.
        store.accept(f"a-{n}", "push", None, b"{}", repository="acme/a")
        clock.advance(1)
        store.accept(f"b-{n}", "push", None, b"{}", repository="acme/b")
        clock.advance(1)
    claimed = [store.claim("w").id for _ in range(6)]  # type: ignore[union-attr]
    assert claimed == ["a-0", "b-0", "a-1", "b-1", "a-2", "b-2"]


# ---- unhandled events and retention (issue 18, finding 8) ------------------------------------------


def test_an_unhandled_event_is_recorded_done_without_its_payload(store: Store) -> None:
    assert store.record_unhandled("u-1", "star", "created") is True
    assert store.record_unhandled("u-1", "star", "created") is False  # a redelivery is still a duplicate
    row = store.get("u-1")
    assert row is not None and row.status == DONE and "without its payload" in (row.note or "")
    assert store.claim("w") is None
    assert store.requeue("u-1") is False  # nothing to run
    assert store.queue_depth() == 0


def test_retention_clears_payloads_of_finished_deliveries_only(store: Store, clock: ManualClock) -> None:
    from sqlalchemy import select

    from bot.adapters.store import deliveries

    for name in ("old-done", "old-failed", "queued"):
        store.accept(name, "push", None, b'{"big": "payload"}')
        clock.advance(1)  # claimed in this order (PostgreSQL orders equal times by heap)
    assert store.complete(store.claim("w").id, "w")  # type: ignore[union-attr]
    assert store.fail(store.claim("w").id, "w", "boom", retry_in=None)  # type: ignore[union-attr]
    assert store.forget_payloads(clock() - 3600) == 0  # finished just now: kept
    assert store.forget_payloads(clock() + 1) == 2
    with store._engine.connect() as conn:
        payloads = dict(conn.execute(select(deliveries.c.id, deliveries.c.payload)).tuples().all())
    assert payloads == {"old-done": b"", "old-failed": b"", "queued": b'{"big": "payload"}'}
    assert store.requeue("old-failed") is False
    assert store.get("old-done") is not None  # the row stays: redeliveries are still duplicates
