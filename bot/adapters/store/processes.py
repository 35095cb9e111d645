"""Live processes: every `serve` and `worker` lists itself with a heartbeat (ProcessBeacon), so any
replica can tell how many workers are alive and which mlops-bot version each runs."""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from bot import __version__
from bot.adapters.store.base import StoreBase
from bot.adapters.store.schema import processes

log = logging.getLogger(__name__)

# A process beats every PROCESS_BEAT_SECONDS; one silent for PROCESS_LIVE_SECONDS is presumed dead, and
# its row is deleted by the next process that registers once it is PROCESS_FORGET_SECONDS old.
PROCESS_BEAT_SECONDS = 10.0
PROCESS_LIVE_SECONDS = 3 * PROCESS_BEAT_SECONDS
PROCESS_FORGET_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class ProcessRow:
    """A live `serve` or `worker` process."""

    id: str
    role: str
    host: str
    pid: int
    version: str
    started_at: float
    heartbeat_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProcessOps(StoreBase):
    """Register, beat and list live processes."""

    def register_process(self, process_id: str, role: str) -> None:
        """List this process as live (again); forget processes silent for a day."""
        now = self._now()
        row = {
            "id": process_id,
            "role": role,
            "host": socket.gethostname()[:200],
            "pid": os.getpid(),
            "version": __version__,
            "started_at": now,
            "heartbeat_at": now,
        }
        with self._write() as conn:
            conn.execute(
                delete(processes).where(
                    or_(processes.c.id == process_id, processes.c.heartbeat_at < now - PROCESS_FORGET_SECONDS)
                )
            )
            conn.execute(insert(processes).values(row))

    def process_heartbeat(self, process_id: str) -> bool:
        """Mark the process alive now. False: it is not listed (forgotten, or never registered)."""
        with self._write() as conn:
            updated = conn.execute(
                update(processes).where(processes.c.id == process_id).values(heartbeat_at=self._now())
            ).rowcount
        return bool(updated)

    def unregister_process(self, process_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(processes).where(processes.c.id == process_id))

    def live_processes(
        self, role: str | None = None, *, within: float = PROCESS_LIVE_SECONDS
    ) -> list[ProcessRow]:
        """Processes that beat in the last `within` seconds, oldest first."""
        query = (
            select(processes)
            .where(processes.c.heartbeat_at > self._now() - within)
            .order_by(processes.c.started_at, processes.c.id)
        )
        if role is not None:
            query = query.where(processes.c.role == role)
        with self._reader.connect() as conn:
            return [ProcessRow(**row) for row in conn.execute(query).mappings()]


class ProcessBeacon:
    """Keeps a process listed in `processes` while the `with` block runs: registers it, beats a heartbeat
    from a daemon thread, and removes it on the way out. A process killed with -9 stops beating and drops
    out of `live_processes` after PROCESS_LIVE_SECONDS. Database errors are logged, never raised: being
    listed is for operators, and must not stop a worker from working."""

    def __init__(
        self, store: ProcessOps, role: str, process_id: str, *, interval: float = PROCESS_BEAT_SECONDS
    ) -> None:
        self.store = store
        self.role = role
        self.process_id = process_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"beacon:{role}", daemon=True)

    def __enter__(self) -> ProcessBeacon:
        self._beat(registered=False)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.store.unregister_process(self.process_id)
        except Exception:
            log.warning("could not remove process %s from the live list", self.process_id, exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat(registered=True)

    def _beat(self, *, registered: bool) -> None:
        try:
            if not (registered and self.store.process_heartbeat(self.process_id)):
                self.store.register_process(self.process_id, self.role)
        except Exception:
            log.warning("could not record that %s %s is alive", self.role, self.process_id, exc_info=True)
