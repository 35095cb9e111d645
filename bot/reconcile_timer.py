"""The periodic reconcile: every `MLOPS_BOT_RECONCILE_INTERVAL_SECONDS`, a reconcile job per repository.

Which repositories: the ones the bot has heard from recently (their deliveries are in the store), with the
installation that sent them. Each job is keyed by (repository, time bucket), so several replicas running
the same timer still queue one reconcile per repository per interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.core import keys
from bot.core.jobs import ReconcileRequest, to_params

log = logging.getLogger(__name__)

JOB_EVENT = "mlops-bot"  # the same `event` the handlers give the bot's own jobs (bot.handlers.context)


class ReconcileTimer:
    def __init__(
        self, store: Any, interval_seconds: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store, self.interval, self.clock = store, interval_seconds, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        """Queue this interval's reconcile jobs; returns how many were new."""
        bucket = int(self.clock() // self.interval)
        queued = 0
        for repo, installation_id in self.store.recent_repositories().items():
            payload = {
                "repository": {"full_name": repo},
                "installation": {"id": installation_id},
                "sender": {"login": "schedule", "type": "Bot"},
                "params": to_params(ReconcileRequest()),
            }
            queued += bool(
                self.store.enqueue(keys.reconcile_tick(repo, bucket), JOB_EVENT, "reconcile", payload)
            )
        return queued

    def start(self) -> ReconcileTimer:
        self._thread = threading.Thread(target=self._run, name="reconcile-timer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a database hiccup must not end the timer; the next interval tries again
                log.exception("queueing the periodic reconcile failed")
