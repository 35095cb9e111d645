"""Retention: what the bot keeps about finished work is deleted after `MLOPS_BOT_RETENTION_DAYS`.

Deliveries hold raw webhook payloads (up to 25 MB, with whatever a PR or comment said) and job
directories hold logs and clones; kept forever they are a growing copy of private repositories. A
periodic sweep clears the payloads of done and failed deliveries (the rows stay, for `mlops-bot
deliveries` and redelivery dedupe) and removes job directories under `<work_dir>/jobs` untouched for
that long, and the cached clone of a repository no job has used for that long. Queued and running work
is never touched. Every replica may sweep: each step is idempotent.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.adapters.clone_cache import CloneCache

log = logging.getLogger(__name__)

DAY_SECONDS = 86_400.0
SWEEP_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class SweepResult:
    payloads_cleared: int
    job_dirs_removed: int


class RetentionSweeper:
    """`sweep()` once (tests call it with their own clock), or `start()` a thread that sweeps hourly."""

    def __init__(
        self,
        store: Any,
        work_dir: Path,
        retention_days: float,
        *,
        clock: Callable[[], float] = time.time,
        interval_seconds: float = SWEEP_INTERVAL_SECONDS,
    ) -> None:
        self.store, self.work_dir, self.retention_days = store, work_dir, retention_days
        self.clock, self.interval = clock, interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.retention_days > 0

    def sweep(self) -> SweepResult:
        if not self.enabled:
            return SweepResult(0, 0)
        cutoff = self.clock() - self.retention_days * DAY_SECONDS
        cleared = self.store.forget_payloads(cutoff)
        # The job logs kept for readers (bot/jobs/job_reports.py) go too; cards and drift reports stay.
        cleared += self.store.forget_reports("job-log", cutoff)
        removed = 0
        jobs = self.work_dir / "jobs"
        if jobs.is_dir():
            for job_dir in jobs.iterdir():
                if job_dir.is_dir() and not job_dir.is_symlink() and _last_touched(job_dir) < cutoff:
                    shutil.rmtree(job_dir, ignore_errors=True)
                    removed += 1
        # A repository's cached clone goes too once no job has used it for as long (bot/adapters/clone_cache.py).
        removed += CloneCache(self.work_dir / "clones").forget_unused(cutoff)
        if cleared or removed:
            log.info(
                "retention: cleared %d payloads and job logs, removed %d job directories or clones",
                cleared,
                removed,
            )
        return SweepResult(cleared, removed)

    def start(self) -> RetentionSweeper:
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                self.sweep()
            except Exception:  # a database hiccup must not end the sweeper; the next interval tries again
                log.exception("the retention sweep failed")
            if self._stop.wait(self.interval):
                return


def _last_touched(job_dir: Path) -> float:
    """The newest mtime of the directory and what is directly in it (a log being written counts)."""
    newest = job_dir.lstat().st_mtime
    for entry in job_dir.iterdir():
        try:
            newest = max(newest, entry.lstat().st_mtime)
        except OSError:
            continue
    return newest
