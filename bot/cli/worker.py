"""`mlops-bot worker`: handle queued deliveries in a process of its own (run as many as you like)."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from bot.cli.serve import add_worker_options, handler_from, open_store, settings_from


def register(sub: Any) -> None:
    p = sub.add_parser(
        "worker",
        help="handle queued deliveries (several workers can share one database)",
        description="Claim deliveries recorded by `mlops-bot serve` and run the handlers. "
        "A worker that dies leaves its delivery to another one once the lease expires.",
    )
    add_worker_options(p)
    p.add_argument("--once", action="store_true", help="handle what is due now, then exit")
    p.add_argument("--worker-id", help="name shown as the lease owner (default: host:pid:random)")
    p.add_argument("--metrics-port", type=int, help="also serve Prometheus metrics on this port")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.logs import configure
    from bot.metrics import Metrics
    from bot.worker import Worker

    configure(args.log_level)
    settings = settings_from(args)
    store = open_store(settings.database_url)
    metrics = Metrics()
    if args.metrics_port:
        from prometheus_client import start_http_server

        metrics.watch_queue_depth(store.queue_depth)
        start_http_server(args.metrics_port, registry=metrics.registry)
    worker = Worker(
        store,
        handler_from(args, settings),
        worker_id=args.worker_id,
        poll_interval=args.poll_interval,
        max_attempts=settings.max_attempts,
        retry_base_seconds=settings.retry_base_seconds,
        lease_seconds=args.lease_seconds,
        metrics=metrics,
    )
    if args.once:
        while worker.run_once():
            pass
        return 0
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:  # finish the current job, then exit
        stop.set()
        worker.wake()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    warm_up = getattr(worker.handle, "warm_up", None)
    if callable(warm_up):
        warm_up()  # the job runner imports now, not when the first job comes
    worker.run_forever(stop)
    store.close()
    return 0
