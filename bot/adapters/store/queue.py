"""The work queue: the bot's own jobs, claims with leases, retries with backoff, and what operators list.

The deliveries table is the queue: recording a delivery and enqueueing its job must be one transaction,
so a redelivery (same `X-GitHub-Delivery`) is deduplicated by the primary key and can never produce a
second job, and an accepted delivery can never be lost between "recorded" and "queued".

Claiming is a guarded UPDATE (`... WHERE id = ? AND <still claimable>`, then check the row count), so two
workers can never both own a delivery on any database. On PostgreSQL the candidate row is selected with
`FOR UPDATE SKIP LOCKED` so concurrent workers do not queue behind each other; on SQLite every write
transaction starts with `BEGIN IMMEDIATE`, which serialises writers up front instead of failing when a
read lock would have to be upgraded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.adapters.store.base import StoreBase, dialect_insert
from bot.adapters.store.notify import notify_queued
from bot.adapters.store.schema import DONE, FAILED, QUEUED, RUNNING, deliveries, new_row, queue_turns
from bot.core.events import Delivery

log = logging.getLogger(__name__)

JOB_PREFIX = "job:"
_MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as `mlops-bot deliveries` shows it (no payload)."""

    id: str
    event: str
    action: str | None
    status: str
    attempts: int
    last_error: str | None
    note: str | None
    received_at: float
    updated_at: float
    finished_at: float | None
    available_at: float
    lease_owner: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class QueueOps(StoreBase):
    """Jobs in, claims out, results recorded: the deliveries table as a queue."""

    def enqueue(
        self,
        key: str,
        event: str,
        action: str | None,
        payload: dict[str, Any],
        *,
        delay_seconds: float = 0.0,
    ) -> bool:
        """Queue one of the bot's own jobs, deduplicated by `key` (stored as `job:<key>`). False: exists."""
        delivery_id = key if key.startswith(JOB_PREFIX) else JOB_PREFIX + key
        now = self._now()
        row = new_row(
            delivery_id, event, action, json.dumps(payload).encode(), now, repository=repository_of(payload)
        )
        row["available_at"] = now + max(0.0, delay_seconds)
        with self._write() as conn:
            queued = self._insert_one(conn, self._insert_ignoring_duplicates(), row)
            if queued and delay_seconds <= 0:
                notify_queued(conn)
            return queued

    def forget_payloads(self, finished_before: float) -> int:
        """Delete the payloads of deliveries done or failed before `finished_before` (retention); their
        rows stay, so `mlops-bot deliveries` and redelivery dedupe still work. How many were cleared."""
        with self._write() as conn:
            return int(
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.status.in_((DONE, FAILED)),
                        deliveries.c.finished_at < finished_before,
                        func.length(deliveries.c.payload) > 0,
                    )
                    .values(payload=b"")
                ).rowcount
            )

    # Which repositories the reconcile timer serves: those with recent deliveries, and the installation
    # events that take them away again (issue 11 defect 6).
    _REPOSITORY_EVENTS = (
        "pull_request",
        "issue_comment",
        "push",
        "issues",
        "installation",
        "installation_repositories",
    )

    def recent_repositories(self, limit: int = 500) -> dict[str, int | None]:
        """Repositories among the latest `limit` GitHub deliveries -> the installation that sent them; minus
        those whose installation was deleted or which were removed from it since (the App cannot see them)."""
        query = (
            select(deliveries.c.payload)
            .where(deliveries.c.event.in_(self._REPOSITORY_EVENTS))
            .order_by(deliveries.c.received_at.desc())
            .limit(limit)
        )
        with self._reader.connect() as conn:
            payloads = conn.execute(query).scalars().all()
        found: dict[str, int | None] = {}
        gone_repos: set[str] = set()  # newest first: a removal hides every older delivery of the repository
        gone_installations: set[int] = set()
        for raw in payloads:
            try:
                event = json.loads(raw)
            except (ValueError, TypeError):
                continue
            if not isinstance(event, dict):
                continue
            installation = (event.get("installation") or {}).get("id")
            action = event.get("action")
            if action == "deleted" and "repository" not in event and installation is not None:
                gone_installations.add(int(installation))
            if action == "removed" or action == "deleted":
                for repo in event.get("repositories_removed") or event.get("repositories") or []:
                    if isinstance(repo, dict) and repo.get("full_name"):
                        gone_repos.add(str(repo["full_name"]))
            try:
                name = str(event["repository"]["full_name"])
            except (KeyError, TypeError):
                continue
            if name in gone_repos or (installation is not None and int(installation) in gone_installations):
                gone_repos.add(name)
                continue
            found.setdefault(name, int(installation) if installation is not None else None)
        return found

    def pull_head_events(self, repo: str, number: int, limit: int = 2000) -> list[dict[str, Any]]:
        """The stored `pull_request.opened/synchronize/reopened` payloads of one pull request, oldest first
        (among the latest `limit` of them): the history of its head, as GitHub announced it."""
        query = (
            select(deliveries.c.payload)
            .where(
                deliveries.c.event == "pull_request",
                deliveries.c.action.in_(("opened", "synchronize", "reopened")),
            )
            .order_by(deliveries.c.received_at.desc())
            .limit(limit)
        )
        with self._reader.connect() as conn:
            payloads = conn.execute(query).scalars().all()
        found: list[dict[str, Any]] = []
        for raw in reversed(payloads):
            try:
                event = _decode_payload(raw)
                if (
                    event["repository"]["full_name"] == repo
                    and int(event["pull_request"]["number"]) == number
                ):
                    found.append(event)
            except (ValueError, KeyError, TypeError):
                continue
        return found

    def claim(self, worker_id: str, lease_seconds: float = 300) -> Delivery | None:
        """The next due delivery, leased to `worker_id`: queued and due, or running with an expired lease."""
        taken = self.claim_batch(worker_id, 1, lease_seconds)
        return taken[0] if taken else None

    def claim_batch(self, worker_id: str, limit: int, lease_seconds: float = 300) -> list[Delivery]:
        """Up to `limit` due deliveries, each leased to `worker_id`, in one transaction, in the order to run
        them. Fair across repositories: first each repository's oldest due delivery (the repository whose last
        claim is oldest first; never claimed: first of all), then each one's second, and so on. A worker that
        dies holding them leaves leases that expire, as with a single claim."""
        now = self._now()
        bound = {"now": now, "owner": worker_id, "expires": now + lease_seconds, "limit": max(1, limit)}
        with self._write() as conn:
            picked = [
                delivery_id for delivery_id, _ in conn.execute(self._candidates(limit > 1), bound).all()
            ]
            if not picked:
                return []
            # One guarded UPDATE: a delivery another worker took between our SELECT and it is not ours.
            conn.execute(_TAKE, {**bound, "ids": picked})
            rows = {row["id"]: row for row in conn.execute(_MINE, {**bound, "ids": picked}).mappings()}
            for repository in {row["repository"] for row in rows.values()}:
                self._take_turn(conn, repository, now)
        taken = [delivery_id for delivery_id in picked if delivery_id in rows]
        return [
            Delivery(
                id=row["id"],
                event=row["event"],
                action=row["action"],
                payload=_decode_payload(row["payload"]),
                attempts=row["attempts"],
                received_at=row["received_at"],
                meta={"worker_id": worker_id, "lease_expires_at": row["lease_expires_at"]},
            )
            for row in (rows[delivery_id] for delivery_id in taken)
        ]

    def release(self, delivery_ids: Sequence[str], worker_id: str) -> int:
        """Give back claimed deliveries this worker has not started (a batch it stops before finishing): queued
        again at once, the claim not counted as an attempt. How many were still held and given back."""
        if not delivery_ids:
            return 0
        now = self._now()
        with self._write() as conn:
            released = int(
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id.in_(list(delivery_ids)),
                        deliveries.c.status == RUNNING,
                        deliveries.c.lease_owner == worker_id,
                    )
                    .values(
                        status=QUEUED,
                        lease_owner=None,
                        lease_expires_at=None,
                        attempts=deliveries.c.attempts - 1,
                        available_at=now,
                        updated_at=now,
                    )
                ).rowcount
            )
            if released:
                notify_queued(conn)
            return released

    def heartbeat_many(self, delivery_ids: Sequence[str], worker_id: str, lease_seconds: float) -> int:
        """Extend the leases of the deliveries `worker_id` still holds among `delivery_ids`; how many."""
        if not delivery_ids:
            return 0
        now = self._now()
        with self._write() as conn:
            return int(
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id.in_(list(delivery_ids)),
                        deliveries.c.status == RUNNING,
                        deliveries.c.lease_owner == worker_id,
                    )
                    .values(lease_expires_at=now + lease_seconds, updated_at=now)
                ).rowcount
            )

    def _candidates(self, fair: bool) -> Any:
        """The claim's SELECT, built once per store and kind (the statement is bound, never rebuilt: building
        SQLAlchemy statements was most of a claim's CPU)."""
        cache: dict[bool, Any] = self.__dict__.setdefault("_claim_statements", {})
        if fair not in cache:
            statement = _next_due_fairly(_CLAIMABLE) if fair else _next_due(_CLAIMABLE)
            if self.dialect == "postgresql":
                # Rows another worker is claiming right now are skipped, not waited for. OF deliveries: the turn
                # row is on the nullable side of the join, which cannot be locked (and a batch's window is
                # computed in a subquery: PostgreSQL locks no row of a query level with a window function).
                statement = statement.with_for_update(skip_locked=True, of=deliveries)
            cache[fair] = statement
        return cache[fair]

    def _take_turn(self, conn: Connection, repository: str, now: float) -> None:
        row = {"repository": repository, "claimed_at": now}
        if self.dialect in ("sqlite", "postgresql"):
            statement = (
                dialect_insert(self.dialect, queue_turns)
                .values(row)
                .on_conflict_do_update(index_elements=["repository"], set_={"claimed_at": now})
            )
            conn.execute(statement)
            return
        if not conn.execute(
            update(queue_turns).where(queue_turns.c.repository == repository).values(claimed_at=now)
        ).rowcount:
            conn.execute(insert(queue_turns).values(row))

    def heartbeat(self, delivery_id: str, worker_id: str, lease_seconds: float) -> bool:
        """Extend the lease. False: the lease was lost (expired and taken by another worker)."""
        now = self._now()
        with self._write() as conn:
            return bool(
                conn.execute(
                    update(deliveries)
                    .where(*_owned(delivery_id, worker_id))
                    .values(lease_expires_at=now + lease_seconds, updated_at=now)
                ).rowcount
            )

    def complete(self, delivery_id: str, worker_id: str, note: str = "") -> bool:
        """Mark done. False (and nothing changes) when `worker_id` no longer holds the lease."""
        now = self._now()
        with self._write() as conn:  # the worker's hottest statement: built once (_COMPLETE), only bound here
            done = conn.execute(
                _COMPLETE,
                {"done_id": delivery_id, "done_owner": worker_id, "done_note": note or None, "done_at": now},
            ).rowcount
        if not done:
            log.warning(
                "delivery %s: worker %s no longer holds its lease; result dropped", delivery_id, worker_id
            )
        return bool(done)

    def fail(self, delivery_id: str, worker_id: str, error: str, *, retry_in: float | None) -> bool:
        """Record a failed attempt: queued again after `retry_in` seconds, or failed for good when None."""
        now = self._now()
        values: dict[str, Any] = {"last_error": error[:_MAX_ERROR_CHARS], "updated_at": now}
        if retry_in is None:
            values.update(status=FAILED, finished_at=now)
        else:
            values.update(status=QUEUED, available_at=now + retry_in)
        return self._finish(delivery_id, worker_id, values)

    def requeue(self, delivery_id: str) -> bool:
        """Queue a failed or done delivery again (attempts reset). False: no such delivery, or it is live."""
        now = self._now()
        with self._write() as conn:
            return bool(
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id == delivery_id,
                        deliveries.c.status.in_((FAILED, DONE)),
                        func.length(deliveries.c.payload) > 0,  # unhandled, or past retention: nothing to run
                    )
                    .values(status=QUEUED, attempts=0, available_at=now, finished_at=None, updated_at=now)
                ).rowcount
            )

    def get(self, delivery_id: str) -> DeliveryRow | None:
        with self._reader.connect() as conn:
            row = conn.execute(_listing().where(deliveries.c.id == delivery_id)).mappings().one_or_none()
        return DeliveryRow(**row) if row is not None else None

    def list(self, limit: int = 100, status: str | None = None) -> list[DeliveryRow]:
        """Newest first."""
        query = _listing().order_by(deliveries.c.received_at.desc(), deliveries.c.id).limit(limit)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        with self._reader.connect() as conn:
            return [DeliveryRow(**row) for row in conn.execute(query).mappings()]

    def queue_depth(self) -> int:
        """Deliveries waiting for or in the hands of a worker."""
        query = select(func.count()).select_from(deliveries).where(deliveries.c.status.in_((QUEUED, RUNNING)))
        with self._reader.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _finish(self, delivery_id: str, worker_id: str, values: dict[str, Any]) -> bool:
        values = {"lease_owner": None, "lease_expires_at": None, **values}
        with self._write() as conn:
            changed = conn.execute(
                update(deliveries).where(*_owned(delivery_id, worker_id)).values(**values)
            ).rowcount
        if not changed:
            log.warning(
                "delivery %s: worker %s no longer holds its lease; result dropped", delivery_id, worker_id
            )
        return bool(changed)


def repository_of(payload: dict[str, Any]) -> str:
    """The owner/name a webhook payload (or a job's) is about; "" when it names none."""
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    return name[:200] if isinstance(name, str) else ""


_CLAIMABLE = or_(
    and_(deliveries.c.status == QUEUED, deliveries.c.available_at <= bindparam("now")),
    and_(deliveries.c.status == RUNNING, deliveries.c.lease_expires_at <= bindparam("now")),
)
_TAKE = (
    update(deliveries)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)), _CLAIMABLE)
    .values(
        status=RUNNING,
        lease_owner=bindparam("owner"),
        lease_expires_at=bindparam("expires"),
        attempts=deliveries.c.attempts + 1,
        updated_at=bindparam("now"),
    )
)
_MINE = select(deliveries).where(
    deliveries.c.id.in_(bindparam("ids", expanding=True)),
    deliveries.c.status == RUNNING,
    deliveries.c.lease_owner == bindparam("owner"),
    deliveries.c.updated_at == bindparam("now"),
)

_COMPLETE = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("done_id"),
        deliveries.c.status == RUNNING,
        deliveries.c.lease_owner == bindparam("done_owner"),
    )
    .values(
        status=DONE,
        note=bindparam("done_note"),
        finished_at=bindparam("done_at"),
        updated_at=bindparam("done_at"),
        lease_owner=None,
        lease_expires_at=None,
    )
)


def _next_due(claimable: Any) -> Any:
    """The one delivery to claim next: from the repository whose last claim is oldest (never claimed: first of
    all), its oldest due delivery."""
    turn = func.coalesce(queue_turns.c.claimed_at, 0.0)
    return (
        select(deliveries.c.id, deliveries.c.repository)
        .select_from(deliveries.outerjoin(queue_turns, queue_turns.c.repository == deliveries.c.repository))
        .where(claimable)
        .order_by(turn, deliveries.c.available_at, deliveries.c.received_at)
        .limit(1)
    )


def _next_due_fairly(claimable: Any) -> Any:
    """Up to `limit` (bound) deliveries to claim together: every repository's oldest due delivery first (in the order
    of their turns), then every one's second, and so on, so a backlog of one repository never fills a batch
    while another waits."""
    turn = func.coalesce(queue_turns.c.claimed_at, 0.0)
    place = func.row_number().over(
        partition_by=deliveries.c.repository, order_by=(deliveries.c.available_at, deliveries.c.received_at)
    )
    ranked = (
        select(deliveries.c.id, place.label("place"), turn.label("turn"))
        .select_from(deliveries.outerjoin(queue_turns, queue_turns.c.repository == deliveries.c.repository))
        .where(claimable)
        .subquery()
    )
    return (
        select(deliveries.c.id, deliveries.c.repository)
        .join(ranked, ranked.c.id == deliveries.c.id)
        .order_by(ranked.c.place, ranked.c.turn, deliveries.c.available_at, deliveries.c.received_at)
        .limit(bindparam("limit"))
    )


def _owned(delivery_id: str, worker_id: str) -> tuple[Any, ...]:
    return (
        deliveries.c.id == delivery_id,
        deliveries.c.status == RUNNING,
        deliveries.c.lease_owner == worker_id,
    )


def _listing() -> Any:
    c = deliveries.c
    return select(
        c.id, c.event, c.action, c.status, c.attempts, c.last_error, c.note,
        c.received_at, c.updated_at, c.finished_at, c.available_at, c.lease_owner,
    )  # fmt: skip


def _decode_payload(raw: bytes) -> dict[str, Any]:
    if not raw:  # cleared by retention; such rows are never requeued, but be safe
        return {}
    value = json.loads(raw)
    return value if isinstance(value, dict) else {"value": value}
