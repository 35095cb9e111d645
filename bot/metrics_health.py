"""Model health and queue health on `/metrics`, read from the bot's store at scrape time.

Per repository and model, from the newest scheduled check the store keeps (`monitoring_checks`): the
champion's version and how long ago it was promoted (as that check found them in the registry, unless a
promotion, rollback or reconcile correction recorded since (`champion_moves`) says otherwise: then at once,
without waiting for the next check), the drift
share, each performance metric, the data-quality state, whether a trigger fired and whether a retrain PR is
open. For the queue, from the deliveries table: deliveries by status, live workers, and the bot's jobs'
durations by kind. Every process that serves `/metrics` reports the same numbers, whoever did the work.

A scrape costs a few indexed aggregate queries at most once per `ttl` seconds (the store's answers are
cached); nothing calls MLflow or GitHub.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from bot.core.monitoring.history import CheckRecord
from bot.core.monitoring.values import parse_time

if TYPE_CHECKING:
    from bot.adapters.store import ChampionMove, JobTimes, Store

log = logging.getLogger(__name__)

MODEL_LABELS = ["repository", "model"]
QUALITY_STATES = ("pass", "fail", "schema-break", "off")

# Every series this collector exports (a test keeps the Grafana dashboard and the alert rules to these).
MODEL_SERIES = (
    "mlops_bot_model_champion_version",
    "mlops_bot_model_seconds_since_promotion",
    "mlops_bot_model_drift_share",
    "mlops_bot_model_performance",
    "mlops_bot_model_data_quality",
    "mlops_bot_model_trigger_fired",
    "mlops_bot_model_retrain_pr_open",
    "mlops_bot_model_last_check_timestamp_seconds",
)
QUEUE_SERIES = (
    "mlops_bot_deliveries",
    "mlops_bot_live_workers",
    "mlops_bot_job_run_seconds",
    "mlops_bot_job_run_longest_seconds",
)


@dataclass
class _Snapshot:
    checks: dict[tuple[str, str], CheckRecord] = field(default_factory=dict)
    moves: dict[tuple[str, str], ChampionMove] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    live_workers: int = 0
    jobs: list[JobTimes] = field(default_factory=list)
    ok: bool = False


class HealthCollector(Collector):
    def __init__(self, store: Store, *, ttl: float = 15.0, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = _Snapshot()
        self._read_at = float("-inf")

    def snapshot(self) -> _Snapshot:
        with self._lock:
            now = self._clock()
            if now - self._read_at >= self._ttl:
                self._snapshot = self._read()
                self._read_at = now
            return self._snapshot

    def _read(self) -> _Snapshot:
        try:
            return _Snapshot(
                checks=self._store.latest_checks(),
                moves=self._store.champion_moves(),
                statuses=self._store.status_counts(),
                live_workers=len(self._store.live_processes("worker")),
                jobs=self._store.job_times(),
                ok=True,
            )
        except Exception:  # a scrape must answer; the database's trouble is /healthz's to report
            log.warning("could not read model health from the store", exc_info=True)
            return _Snapshot()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        yield from _model_families(snap.checks, snap.moves, self._clock())
        deliveries = GaugeMetricFamily(
            "mlops_bot_deliveries", "Deliveries and jobs in the store, by status.", labels=["status"]
        )
        for status in ("queued", "running", "done", "failed"):
            deliveries.add_metric([status], float(snap.statuses.get(status, 0)))
        yield deliveries
        if snap.ok:
            yield GaugeMetricFamily(
                "mlops_bot_live_workers",
                "Worker processes and threads that beat recently, across replicas.",
                value=float(snap.live_workers),
            )
        runs = SummaryMetricFamily(
            "mlops_bot_job_run_seconds",
            "The bot's finished jobs by kind: from the last attempt becoming due to finishing.",
            labels=["kind"],
        )
        longest = GaugeMetricFamily(
            "mlops_bot_job_run_longest_seconds", "The longest finished job of each kind.", labels=["kind"]
        )
        for job in snap.jobs:
            runs.add_metric([job.kind], count_value=job.count, sum_value=job.seconds)
            longest.add_metric([job.kind], job.longest)
        yield runs
        yield longest


def _champion(record: CheckRecord | None, move: ChampionMove | None) -> tuple[str, float | None]:
    """The champion's version and when it was promoted: the newer of the last check's view and the last move."""
    checked = parse_time(record.checked_at) if record is not None else None
    if move is not None and (record is None or checked is None or move.moved_at >= checked.timestamp()):
        return move.version, move.moved_at
    if record is None:
        return "", None
    promoted = parse_time(record.promoted_at)
    return record.champion_version, promoted.timestamp() if promoted else None


def _model_families(
    checks: dict[tuple[str, str], CheckRecord], moves: dict[tuple[str, str], ChampionMove], now: float
) -> Iterator[Metric]:
    version = GaugeMetricFamily(
        "mlops_bot_model_champion_version",
        "The champion's version number: the newest promotion or rollback, or the newest check if later.",
        labels=MODEL_LABELS,
    )
    since = GaugeMetricFamily(
        "mlops_bot_model_seconds_since_promotion",
        "Seconds since the champion was promoted.",
        labels=MODEL_LABELS,
    )
    drift = GaugeMetricFamily(
        "mlops_bot_model_drift_share",
        "Share of columns that drifted in the newest check.",
        labels=MODEL_LABELS,
    )
    performance = GaugeMetricFamily(
        "mlops_bot_model_performance",
        "The champion's score on the newest labelled batch, by metric.",
        labels=[*MODEL_LABELS, "metric"],
    )
    quality = GaugeMetricFamily(
        "mlops_bot_model_data_quality",
        "1 for the data-quality state of the newest check (pass, fail, schema-break, off), 0 for the others.",
        labels=[*MODEL_LABELS, "state"],
    )
    fired = GaugeMetricFamily(
        "mlops_bot_model_trigger_fired",
        "1 when a monitoring trigger (quality, drift, performance, schedule) fired: its breach persisted.",
        labels=[*MODEL_LABELS, "trigger"],
    )
    retrain = GaugeMetricFamily(
        "mlops_bot_model_retrain_pr_open", "1 while a retrain pull request is open.", labels=MODEL_LABELS
    )
    checked = GaugeMetricFamily(
        "mlops_bot_model_last_check_timestamp_seconds",
        "When the newest check ran (Unix time).",
        labels=MODEL_LABELS,
    )
    for repository, model in sorted({*checks, *moves}):
        labels = [repository, model]
        champion, promoted_at = _champion(checks.get((repository, model)), moves.get((repository, model)))
        if champion.isdigit():
            version.add_metric(labels, float(champion))
        if promoted_at is not None:
            since.add_metric(labels, max(0.0, now - promoted_at))
        record = checks.get((repository, model))
        if record is None:
            continue  # promoted, never checked yet: only the champion is known
        if record.drift_share is not None:
            drift.add_metric(labels, record.drift_share)
        for metric, value in sorted(record.performance.items()):
            performance.add_metric([*labels, metric], value)
        state = record.quality_status if record.quality_status in QUALITY_STATES else "fail"
        for candidate in QUALITY_STATES:
            quality.add_metric([*labels, candidate], 1.0 if candidate == state else 0.0)
        for trigger in ("quality", "drift", "performance", "schedule"):
            fired.add_metric([*labels, trigger], 1.0 if trigger in record.fired else 0.0)
        retrain.add_metric(labels, 1.0 if record.retrain_pr is not None else 0.0)
        if at := parse_time(record.checked_at):
            checked.add_metric(labels, at.timestamp())
    yield from (version, since, drift, performance, quality, fired, retrain, checked)
