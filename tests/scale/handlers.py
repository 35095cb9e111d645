"""Handlers the multi-process suite runs inside real `mlops-bot worker` processes (via MLOPS_BOT_HANDLER).

Each records what it did in tables of the bot's own database (MLOPS_BOT_DATABASE_URL), so the test can
read every process's effects afterwards, including those of a worker it killed.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from sqlalchemy import Column, Double, Integer, MetaData, String, Table, create_engine, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine

from bot.adapters.store import Store
from bot.core.events import Delivery

tables = MetaData()
# Every time a handler started on a delivery (append-only): shows re-runs after a worker died.
runs = Table(
    "test_runs",
    tables,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(200), nullable=False),
    Column("worker", String(200), nullable=False),
    Column("at", Double, nullable=False),
)
# The effect, keyed by delivery as the bot's real effects are (a comment by marker, a promotion by run).
effects = Table(
    "test_effects",
    tables,
    Column("delivery_id", String(200), primary_key=True),
    Column("worker", String(200), nullable=False),
)
champions = Table(
    "test_champions",
    tables,
    Column("model", String(100), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("candidate", String(100), nullable=False),
)
promotions = Table(
    "test_promotions",
    tables,
    Column("candidate", String(100), primary_key=True),
    Column("model", String(100), nullable=False),
    Column("from_version", Integer, nullable=False),
    Column("to_version", Integer, nullable=False),
    Column("worker", String(200), nullable=False),
    Column("started_at", Double, nullable=False),
    Column("finished_at", Double, nullable=False),
)


@functools.cache
def _engine() -> Engine:
    return create_engine(os.environ["MLOPS_BOT_DATABASE_URL"], pool_pre_ping=True)


@functools.cache
def _store() -> Store:
    return Store(os.environ["MLOPS_BOT_DATABASE_URL"])


def _worker(delivery: Delivery) -> str:
    return str(delivery.meta.get("worker_id", os.getpid()))


def record_effect(delivery: Delivery) -> None:
    """Log the run, work a little, then apply the keyed effect (a re-run finds it done and changes nothing)."""
    with _engine().begin() as conn:
        conn.execute(insert(runs).values(delivery_id=delivery.id, worker=_worker(delivery), at=time.time()))
    time.sleep(float(os.environ.get("TEST_HANDLER_SECONDS", "0.005")))
    statement: Any = pg_insert(effects).on_conflict_do_nothing(index_elements=["delivery_id"])
    with _engine().begin() as conn:
        conn.execute(statement.values(delivery_id=delivery.id, worker=_worker(delivery)))


def promote(delivery: Delivery) -> None:
    """Move the model's champion to the delivery's candidate: read, think, write -- under the bot's named
    lock. Without the lock two workers would read the same champion and one promotion would be lost."""
    model, candidate = delivery.payload["model"], delivery.payload["candidate"]
    with _store().lock(f"promote:{model}", timeout=60, lease_seconds=10, poll=0.02):
        started = time.time()
        with _engine().connect() as conn:
            if conn.execute(
                select(promotions.c.candidate).where(promotions.c.candidate == candidate)
            ).first():
                return  # promoted already (a re-run): keyed by candidate
            current = conn.execute(select(champions.c.version).where(champions.c.model == model)).scalar()
        time.sleep(float(os.environ.get("TEST_PROMOTE_SECONDS", "0.1")))  # e.g. gates, registry calls
        version = (current or 0) + 1
        with _engine().begin() as conn:
            if current is None:
                conn.execute(insert(champions).values(model=model, version=version, candidate=candidate))
            else:
                conn.execute(
                    update(champions)
                    .where(champions.c.model == model)
                    .values(version=version, candidate=candidate)
                )
            conn.execute(
                insert(promotions).values(
                    candidate=candidate,
                    model=model,
                    from_version=current or 0,
                    to_version=version,
                    worker=_worker(delivery),
                    started_at=started,
                    finished_at=time.time(),
                )
            )
