"""Named cross-process locks (`promote:<model>`, ...), each a row with an owner and an expiry.

Named locks live in their own table (name, owner, expiry) on both databases rather than in PostgreSQL
advisory locks: an advisory lock belongs to one pooled connection, vanishes silently with it, and is
invisible to `SELECT`; a row with an expiry is visible, survives connection churn, and is released by
its lease when the holder dies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

from sqlalchemy import delete, exc, or_, select, update

from bot.adapters.store.base import StoreBase
from bot.adapters.store.schema import locks

log = logging.getLogger(__name__)


class LockTimeout(Exception):
    """A named lock stayed held by someone else for longer than the caller was willing to wait."""


class LockOps(StoreBase):
    """Hold, inspect and renew named locks."""

    @contextlib.contextmanager
    def lock(
        self, name: str, *, timeout: float = 600, lease_seconds: float = 600, poll: float = 0.2
    ) -> Iterator[None]:
        """Hold the cross-process lock `name` (e.g. `promote:<model>`) for the `with` block.

        The lease is renewed in the background while the block runs, so a long promotion keeps it;
        if the holder dies, the lock frees itself when its lease runs out. Raises LockTimeout.
        """
        owner = _owner_id()
        deadline = time.monotonic() + timeout
        while not self._try_lock(name, owner, lease_seconds):
            if time.monotonic() >= deadline:
                raise LockTimeout(f"lock {name!r} is still held by another worker after {timeout:g}s")
            time.sleep(poll)
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew_lock, args=(name, owner, lease_seconds, stop), name=f"lock:{name}", daemon=True
        )
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            with self._write() as conn:
                conn.execute(delete(locks).where(locks.c.name == name, locks.c.owner == owner))

    def lock_owner(self, name: str) -> str | None:
        """Who holds `name` now (None when free or expired)."""
        query = select(locks.c.owner).where(locks.c.name == name, locks.c.expires_at > self._now())
        with self._reader.connect() as conn:
            owner = conn.execute(query).scalar_one_or_none()
        return str(owner) if owner is not None else None

    def _try_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        now = self._now()
        with self._write() as conn:
            if self._insert_one(
                conn,
                self._insert_ignoring_duplicates(locks, "name"),
                {"name": name, "owner": owner, "expires_at": now + lease_seconds},
            ):
                return True
            return bool(
                conn.execute(
                    update(locks)
                    .where(locks.c.name == name, or_(locks.c.expires_at <= now, locks.c.owner == owner))
                    .values(owner=owner, expires_at=now + lease_seconds)
                ).rowcount
            )

    def _renew_lock(self, name: str, owner: str, lease_seconds: float, stop: threading.Event) -> None:
        while not stop.wait(lease_seconds / 3):
            try:
                with self._write() as conn:
                    renewed = conn.execute(
                        update(locks)
                        .where(locks.c.name == name, locks.c.owner == owner)
                        .values(expires_at=self._now() + lease_seconds)
                    ).rowcount
                if not renewed:
                    log.warning("lock %s was lost (its lease expired and another worker took it)", name)
                    return
            except exc.SQLAlchemyError:
                log.exception("could not renew lock %s; will retry", name)


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"
