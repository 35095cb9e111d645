"""Several replicas on one PostgreSQL: two `serve --no-worker` and two `worker` processes, real
subprocesses. 1,000 signed deliveries over both web replicas, a worker killed with -9 midway and restarted:
every effect exactly once, nothing left behind. Concurrent promotions of one model from two workers end
with one consistent champion."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from bot.adapters import migrations
from bot.adapters.store import DONE, Store, deliveries
from bot.core.signature import sign
from bot.worker import CLAIM_BATCH
from tests.scale import handlers
from tests.scale.cluster import SECRET, Cluster, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.integration]

DELIVERIES = 1000
KILL_AFTER = 300  # effects recorded when worker-a is killed


@pytest.fixture
def database(postgres_database: str) -> Iterator[str]:
    migrations.upgrade(postgres_database)
    engine = create_engine(postgres_database)
    handlers.tables.create_all(engine)
    engine.dispose()
    yield postgres_database


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    store = Store(database)
    yield store
    store.close()


def _cluster(database: str, tmp_path: Path, handler: str) -> Iterator[Cluster]:
    cluster = Cluster(database, tmp_path, handler)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def effects_cluster(database: str, tmp_path: Path) -> Iterator[Cluster]:
    yield from _cluster(database, tmp_path, "tests.scale.handlers:record_effect")


@pytest.fixture
def promotion_cluster(database: str, tmp_path: Path) -> Iterator[Cluster]:
    yield from _cluster(database, tmp_path, "tests.scale.handlers:promote")


async def _post_all(ports: list[int], ids: list[str], concurrency: int = 16) -> list[tuple[str, int, str]]:
    """POST each delivery to ports[i % 2]; when a replica does not answer, to the next one, as a load
    balancer would. (delivery id, port that answered, status it reported)."""
    todo = list(enumerate(ids))
    answers: list[tuple[str, int, str]] = []

    async def sender(client: httpx.AsyncClient) -> None:
        while todo:
            index, delivery_id = todo.pop()
            body = json.dumps({"action": "created", "n": index, "repository": {"full_name": "acme/churn"}})
            headers = {
                "Content-Type": "application/json",
                "X-GitHub-Event": "issue_comment",
                "X-GitHub-Delivery": delivery_id,
                "X-Hub-Signature-256": sign(body.encode(), SECRET.encode()),
            }
            for attempt in range(len(ports) * 3):
                port = ports[(index + attempt) % len(ports)]
                try:
                    response = await client.post(
                        f"http://127.0.0.1:{port}/webhook", content=body, headers=headers
                    )
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
                    continue
                assert response.status_code == 202, response.text
                answers.append((delivery_id, port, response.json()["status"]))
                break
            else:
                raise AssertionError(f"no replica accepted {delivery_id}")

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
    return answers


def test_a_thousand_deliveries_over_two_web_replicas_and_a_killed_worker_take_effect_once(
    effects_cluster: Cluster, store: Store
) -> None:
    web = [effects_cluster.serve("web-1"), effects_cluster.serve("web-2")]
    worker_a = effects_cluster.worker("worker-a")
    effects_cluster.worker("worker-b")
    effects_cluster.wait_ready(store)
    ports = [replica.port for replica in web if replica.port is not None]
    for port in ports:  # each web replica sees both workers, which run in other processes
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["live_workers"] == 2
    ids = [f"delivery-{n:04d}" for n in range(DELIVERIES)]

    answers: list[tuple[str, int, str]] = []
    sender = threading.Thread(target=lambda: answers.extend(asyncio.run(_post_all(ports, ids))))
    sender.start()
    engine = create_engine(effects_cluster.database_url)
    try:
        effect_count = select(func.count()).select_from(handlers.effects)
        held_by_a = select(deliveries.c.id).where(deliveries.c.lease_owner == "worker-a")
        wait_until(
            lambda: _scalar(engine, effect_count) >= KILL_AFTER and bool(_column(engine, held_by_a)),
            90,
            f"{KILL_AFTER} effects and worker-a in the middle of a delivery",
        )
        worker_a.kill()
        held_by_the_dead = set(_column(engine, held_by_a))
        effects_cluster.worker("worker-a-restarted")
        sender.join(120)
        assert not sender.is_alive(), "the sender did not finish"
        done = select(func.count()).select_from(deliveries).where(deliveries.c.status == DONE)
        wait_until(lambda: _scalar(engine, done) >= DELIVERIES, 90, "every delivery to be done", 0.2)

        # The same deliveries again, each to the replica that did not take it: GitHub redelivering.
        again = asyncio.run(_post_all(ports[::-1], ids[:50]))
        assert {status for _, _, status in again} == {"duplicate"}

        assert sorted(a[0] for a in answers) == ids  # every delivery answered 202 ...
        assert {a[2] for a in answers} == {"queued"}  # ... and recorded on its first POST
        assert set(Counter(a[1] for a in answers)) == set(ports)  # both web replicas took deliveries
        rows = store.list(limit=DELIVERIES + 10)
        assert sorted(r.id for r in rows) == ids
        assert Counter(r.status for r in rows) == {DONE: DELIVERIES}  # nothing queued, running or failed
        assert store.queue_depth() == 0

        effects = _column(engine, select(handlers.effects.c.delivery_id))
        assert sorted(effects) == ids  # every effect, once
        runs = Counter(_column(engine, select(handlers.runs.c.delivery_id)))
        rerun = {delivery for delivery, count in runs.items() if count > 1}
        # Only what the killed worker held ran again: the delivery it was running and the rest of its batch.
        assert rerun <= held_by_the_dead and len(held_by_the_dead) <= CLAIM_BATCH
        for rescued in held_by_the_dead:  # its lease ran out and another worker finished it
            row = store.get(rescued)
            assert row is not None and row.attempts == 2 and row.lease_owner is None
        workers = set(_column(engine, select(handlers.effects.c.worker)))
        assert {"worker-a", "worker-b", "worker-a-restarted"} <= workers
    finally:
        engine.dispose()
    for replica in effects_cluster.replicas:
        assert "Traceback" not in replica.output(), replica.output()


def test_concurrent_promotions_of_one_model_from_two_workers_leave_one_consistent_champion(
    promotion_cluster: Cluster, store: Store
) -> None:
    candidates = [f"run-{n:02d}" for n in range(12)]
    jobs = [(f"promote-{c}", "promote", None, json.dumps({"model": "churn", "candidate": c}).encode())
            for c in candidates]  # fmt: skip
    jobs.append(("promote-run-03-again", "promote", None, jobs[3][3]))  # the same promotion asked twice
    store.accept_many(jobs)
    promotion_cluster.worker("worker-a")
    promotion_cluster.worker("worker-b")
    promotion_cluster.wait_ready(store)
    engine = create_engine(promotion_cluster.database_url)
    try:
        wait_until(lambda: store.queue_depth() == 0, 60, "every promotion to finish", 0.1)
        with engine.connect() as conn:
            by_version = select(handlers.promotions).order_by(handlers.promotions.c.to_version)
            log = list(conn.execute(by_version).mappings())
            champion = conn.execute(select(handlers.champions)).mappings().one()
    finally:
        engine.dispose()

    assert sorted(p["candidate"] for p in log) == candidates  # each candidate promoted once
    assert [(p["from_version"], p["to_version"]) for p in log] == [(n, n + 1) for n in range(len(candidates))]
    assert (champion["version"], champion["candidate"]) == (len(candidates), log[-1]["candidate"])
    assert {p["worker"] for p in log} == {"worker-a", "worker-b"}  # both workers promoted ...
    for earlier, later in itertools.pairwise(log):  # ... never at the same time
        assert earlier["finished_at"] <= later["started_at"]
    assert Counter(r.status for r in store.list()) == {DONE: len(jobs)}


def _scalar(engine: object, query: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(query).scalar_one())


def _column(engine: object, query: object) -> list[str]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return [str(value) for value in conn.execute(query).scalars()]
