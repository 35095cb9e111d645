"""Prometheus metrics for intake and the worker, on a registry of their own (one per app, so tests can
build several apps in one process without "duplicated timeseries" errors). The app also registers model and
queue health read from the store (bot.metrics_health)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

# Outcomes of an HTTP delivery, as counted by `mlops_bot_deliveries_received_total{outcome=...}`.
ACCEPTED = "accepted"
DUPLICATE = "duplicate"
PING = "ping"
REJECTED_SIGNATURE = "rejected_signature"
MALFORMED = "malformed"
TOO_LARGE = "too_large"
STORE_ERROR = "store_error"

# Before the signature is checked the event header is attacker-controlled: never use it as a label value
# (anyone could create unbounded time series).
UNVERIFIED_EVENT = "unverified"

CONTENT_TYPE = CONTENT_TYPE_LATEST

_JOB_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._delivery_counters: dict[tuple[str, str], Any] = {}
        self.deliveries = Counter(
            "mlops_bot_deliveries_received",
            "Webhook deliveries received, by event and outcome.",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "mlops_bot_queue_depth",
            "Deliveries queued or running (read from the database at scrape time).",
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "mlops_bot_job_duration_seconds",
            "Time a handler spent on one attempt of a delivery.",
            ["event"],
            buckets=_JOB_BUCKETS,
            registry=self.registry,
        )
        self.jobs = Counter(
            "mlops_bot_jobs",
            "Handler attempts by event and outcome (done, retry, failed).",
            ["event", "outcome"],
            registry=self.registry,
        )

        self.config_problems = Gauge(
            "mlops_bot_config_problems",
            "Settings that keep the bot from working (1 each), e.g. no webhook secret: every delivery refused.",
            ["problem"],
            registry=self.registry,
        )

    def delivery(self, event: str, outcome: str) -> None:
        # Counted for every webhook: the labelled child is looked up once per (event, outcome), not per delivery.
        counter = self._delivery_counters.get((event, outcome))
        if counter is None:
            counter = self._delivery_counters[(event, outcome)] = self.deliveries.labels(
                event=event, outcome=outcome
            )
        counter.inc()

    def job(self, event: str, outcome: str, seconds: float) -> None:
        self.jobs.labels(event=event, outcome=outcome).inc()
        self.job_duration.labels(event=event).observe(seconds)

    def watch_queue_depth(self, depth: Callable[[], int]) -> None:
        """Read the queue depth from `depth` at each scrape: right whichever process did the work."""
        self.queue_depth.set_function(lambda: float(depth()))

    def watch_health(self, collector: Collector) -> None:
        """Model and queue health read from the store at scrape time (bot.metrics_health)."""
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)
