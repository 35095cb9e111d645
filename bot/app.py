"""The webhook bot's HTTP face: `POST /webhook`, `GET /healthz`, `GET /metrics`, `GET /reports/<id>`.

The web path only authenticates, validates and durably records a delivery, then answers 202; handlers
run in a worker (a thread of this process by default, or `mlops-bot worker` processes), because GitHub
gives up on a delivery after 10 seconds and never retries it by itself.
See https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks

Imports no ML SDK: the worker's handler is resolved lazily and imports what it needs inside jobs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from bot import metrics as m
from bot import web
from bot.adapters.store import GroupCommitter, ProcessBeacon, Store
from bot.core.events import Delivery
from bot.github_webhook import PATH, WebhookIntake, openapi_operation
from bot.intake import BodyReader
from bot.metrics_health import HealthCollector
from bot.mlflow_webhook import ERROR_RESPONSE, mlflow_router
from bot.reconcile_timer import ReconcileTimer
from bot.retention import RetentionSweeper
from bot.settings import Settings
from bot.worker import (
    MAX_CLAIM_BATCH,
    Worker,
    WorkerThread,
    default_worker_id,
    load_handler,
    start_worker_thread,
)

log = logging.getLogger(__name__)

# The GitHub events the bot's handlers subscribe to (bot.handlers.routes(); a test keeps the two equal,
# without the web path importing the handlers). `X-GitHub-Event` is outside the signed body, so a replayed
# signed body can arrive under any event name: deliveries of other events are acknowledged and recorded
# without their payload (dedupe still works), and counted under one metric label, not one per name.
HANDLED_EVENTS = frozenset(
    {"issue_comment", "pull_request", "workflow_run", "installation", "installation_repositories"}
)


class BotApp(FastAPI):
    """FastAPI, with GitHub's deliveries (`POST /webhook`) taken before any of FastAPI's own layers:
    bot/github_webhook.py says why."""

    intake: WebhookIntake | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.intake is not None and scope["type"] == "http" and scope["path"] == PATH:
            await self.intake(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    handle: Callable[[Delivery], None] | None = None,
    store: Store | None = None,
    start_worker: bool | None = None,
    lease_seconds: float = 300.0,
    poll_interval: float = 1.0,
    handled_events: Collection[str] = HANDLED_EVENTS,
) -> BotApp:
    """The FastAPI app. `start_worker` defaults to `settings.inprocess_worker`; the worker thread starts
    and stops with the app's lifespan. `handle` defaults to `load_handler(settings)`. Deliveries of
    events outside `handled_events` are recorded without their payload and never reach `handle`."""
    # Its commits never wait for a WAL checkpoint (the intake's p99): a thread of the store does them.
    store = store if store is not None else Store(settings.database_url, background_checkpoints=True)
    metrics = m.Metrics()
    metrics.watch_queue_depth(store.queue_depth)
    metrics.watch_health(HealthCollector(store))
    committer = GroupCommitter(store)
    reader = BodyReader(
        settings.max_body_bytes,
        max_large=settings.max_large_bodies,
        idle_timeout=settings.body_idle_timeout_seconds,
    )
    secrets = settings.webhook_secrets()
    if not secrets:
        log.warning(
            "no webhook secret configured: deliveries are refused until MLOPS_BOT_WEBHOOK_SECRET is set"
        )
    run_worker = settings.inprocess_worker if start_worker is None else start_worker
    worker: Worker | None = None
    if run_worker:
        worker = Worker(
            store,
            handle if handle is not None else load_handler(settings),
            poll_interval=poll_interval,
            max_attempts=settings.max_attempts,
            retry_base_seconds=settings.retry_base_seconds,
            lease_seconds=lease_seconds,
            metrics=metrics,
            # It shares this process's GIL with the intake: a burst of deliveries is answered first, and waits
            # at most this long for its jobs to start.
            yield_to_intake=settings.worker_yield_seconds,
            max_batch_size=MAX_CLAIM_BATCH,  # alone on this queue: a backlog drains in growing claims
        )

    # Listed in the store's live processes, so every replica's /healthz can count the workers.
    beacon = ProcessBeacon(store, "serve", default_worker_id())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(beacon.__enter__)
        running: WorkerThread | None = start_worker_thread(worker) if worker is not None else None
        warm_up = getattr(worker.handle if worker is not None else None, "warm_up", None)
        if callable(warm_up):
            await run_in_threadpool(warm_up)  # the job runner imports now, not when the first PR opens
        timer = (
            ReconcileTimer(store, settings.reconcile_interval_seconds).start()
            if worker is not None and settings.reconcile_interval_seconds > 0
            else None
        )
        sweeper = RetentionSweeper(store, settings.work_dir, settings.retention_days)
        if sweeper.enabled:
            sweeper.start()
        try:
            yield
        finally:
            await run_in_threadpool(sweeper.stop)
            if timer is not None:
                await run_in_threadpool(timer.stop)
            if running is not None:
                await run_in_threadpool(running.stop)
            close = getattr(worker.handle if worker is not None else None, "close", None)
            if callable(close):
                await run_in_threadpool(close)  # the handlers' warm job runner
            await run_in_threadpool(committer.close)
            await run_in_threadpool(beacon.__exit__, None, None, None)

    app = BotApp(title="mlops-bot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.metrics = metrics
    app.state.worker = worker

    app.intake = WebhookIntake(
        secrets=secrets,
        reader=reader,
        committer=committer,
        store=store,
        metrics=metrics,
        handled_events=handled_events,
        wake=worker.wake if worker is not None else None,
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            described = FastAPI.openapi(app)
            described["paths"] = {PATH: {"post": openapi_operation(ERROR_RESPONSE)}, **described["paths"]}
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]

    # Alive but useless: /healthz says "degraded" (still 200: restarting cannot fix a setting) and the
    # mlops_bot_config_problems gauge lets an alert see it.
    problems = []
    if not settings.webhook_secrets():
        problems.append("no webhook secret: every delivery is refused; set MLOPS_BOT_WEBHOOK_SECRET")
        metrics.config_problems.labels(problem="no_webhook_secret").set(1)

    @app.get("/healthz")
    def healthz() -> Response:
        """200 while this process can reach the database. `live_workers` counts the worker processes (and
        threads) that beat recently, across all replicas: 0 with deliveries queued means nothing handles
        them, which is for an alert to notice, not a reason to restart this process."""
        try:
            live_workers = len(store.live_processes("worker"))  # one query: also proves the database answers
        except Exception as error:
            return JSONResponse({"status": "unavailable", "database": type(error).__name__}, status_code=503)
        return JSONResponse(
            {
                "status": "degraded" if problems else "ok",
                "problems": problems,
                "database": store.dialect,
                "worker": worker is not None,
                "live_workers": live_workers,
            }
        )

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    def prometheus() -> Response:
        return Response(metrics.render(), media_type=m.CONTENT_TYPE)

    app.include_router(mlflow_router(settings, store, reader=reader))
    web.mount(app, settings, store)
    return app
