"""The webhook bot's HTTP face: `POST /webhook`, `GET /healthz`, `GET /metrics`, `GET /reports/<id>`.

The web path only authenticates, validates and durably records a delivery, then answers 202; handlers
run in a worker (a thread of this process by default, or `mlops-bot worker` processes), because GitHub
gives up on a delivery after 10 seconds and never retries it by itself.
See https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks

Imports no ML SDK: the worker's handler is resolved lazily and imports what it needs inside jobs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from bot import metrics as m
from bot import web
from bot.adapters.store import GroupCommitter, ProcessBeacon, Store, StoreUnavailable, repository_of
from bot.core.events import Delivery
from bot.core.signature import SIGNATURE_HEADER, refuse_header, verify
from bot.intake import BodyReader, BodyRefused
from bot.metrics_health import HealthCollector
from bot.mlflow_webhook import ERROR_RESPONSE, mlflow_router
from bot.reconcile_timer import ReconcileTimer
from bot.retention import RetentionSweeper
from bot.settings import Settings
from bot.worker import Worker, WorkerThread, default_worker_id, load_handler, start_worker_thread

log = logging.getLogger(__name__)

# Hashing and parsing a body this big would stall the event loop for every other request: do it in a thread.
_OFFLOAD_BYTES = 1024 * 1024
_MAX_ID_CHARS = 200
_MAX_EVENT_CHARS = 100

# The GitHub events the bot's handlers subscribe to (bot.handlers.routes(); a test keeps the two equal,
# without the web path importing the handlers). `X-GitHub-Event` is outside the signed body, so a replayed
# signed body can arrive under any event name: deliveries of other events are acknowledged and recorded
# without their payload (dedupe still works), and counted under one metric label, not one per name.
HANDLED_EVENTS = frozenset(
    {"issue_comment", "pull_request", "workflow_run", "installation", "installation_repositories"}
)
UNHANDLED_EVENT = "unhandled"


class _Refusal(Exception):
    def __init__(
        self,
        status: int,
        outcome: str,
        message: str,
        event: str = m.UNVERIFIED_EVENT,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.message = message
        self.event = event
        self.headers = headers or {}


def create_app(  # noqa: C901  (its routes are closures over the app's state; each one is short)
    settings: Settings,
    *,
    handle: Callable[[Delivery], None] | None = None,
    store: Store | None = None,
    start_worker: bool | None = None,
    lease_seconds: float = 300.0,
    poll_interval: float = 1.0,
    handled_events: Collection[str] = HANDLED_EVENTS,
) -> FastAPI:
    """The FastAPI app. `start_worker` defaults to `settings.inprocess_worker`; the worker thread starts
    and stops with the app's lifespan. `handle` defaults to `load_handler(settings)`. Deliveries of
    events outside `handled_events` are recorded without their payload and never reach `handle`."""
    store = store if store is not None else Store(settings.database_url)
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
        )

    # Listed in the store's live processes, so every replica's /healthz can count the workers.
    beacon = ProcessBeacon(store, "serve", default_worker_id())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(beacon.__enter__)
        running: WorkerThread | None = start_worker_thread(worker) if worker is not None else None
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

    app = FastAPI(title="mlops-bot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.metrics = metrics
    app.state.worker = worker

    @app.post("/webhook", status_code=202, openapi_extra=_WEBHOOK_OPENAPI, responses=_WEBHOOK_RESPONSES)
    async def webhook(request: Request) -> Response:
        try:
            _refuse_on_headers(request, secrets)  # before reading a byte of the body
            try:
                body = await reader.read(request)
            except BodyRefused as refused:
                raise _Refusal(
                    refused.status, refused.outcome, refused.message, headers=refused.headers
                ) from refused
            if len(body) > _OFFLOAD_BYTES:
                event, delivery_id, payload = await run_in_threadpool(
                    _authentic_delivery, request, body, secrets
                )
            else:
                event, delivery_id, payload = _authentic_delivery(request, body, secrets)
        except _Refusal as refusal:
            metrics.delivery(refusal.event, refusal.outcome)
            if refusal.outcome == m.REJECTED_SIGNATURE:
                log.warning("refused a delivery from %s: %s", _client(request), refusal.message)
            return JSONResponse(
                {"error": refusal.message}, status_code=refusal.status, headers=refusal.headers
            )

        if event == "ping":  # GitHub's "hello" when a webhook is created: nothing to do
            metrics.delivery(event, m.PING)
            return JSONResponse({"zen": payload.get("zen"), "hook_id": payload.get("hook_id")})

        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        if event not in handled_events:
            try:
                recorded = await run_in_threadpool(store.record_unhandled, delivery_id, event, action)
            except Exception as error:
                metrics.delivery(UNHANDLED_EVENT, m.STORE_ERROR)
                return JSONResponse(
                    {"error": f"could not record the delivery: {type(error).__name__}"}, status_code=503
                )
            metrics.delivery(UNHANDLED_EVENT, m.ACCEPTED if recorded else m.DUPLICATE)
            return JSONResponse(
                {
                    "delivery": delivery_id,
                    "status": "ignored" if recorded else "duplicate",
                    "note": f"mlops-bot has no handler for {event!r} events: recorded without its payload",
                },
                status_code=202,
            )
        raw = body if _is_json(request) else json.dumps(payload).encode()
        try:
            accepted = await committer.accept(delivery_id, event, action, raw, repository_of(payload))
        except StoreUnavailable as error:
            metrics.delivery(event, m.STORE_ERROR)
            return JSONResponse(
                {"error": f"{error}; the delivery was not recorded, redeliver it later"}, status_code=503
            )
        metrics.delivery(event, m.ACCEPTED if accepted else m.DUPLICATE)
        if accepted and worker is not None:
            worker.wake()
        return JSONResponse(
            {"delivery": delivery_id, "status": "queued" if accepted else "duplicate"}, status_code=202
        )

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


# What /webhook reads and answers, for the bot's own OpenAPI description (schemathesis fuzzes against it).
_ERROR_BODY = ERROR_RESPONSE
_WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A ping: GitHub's hello when the webhook is created."},
    202: {
        "description": "Recorded (or already recorded): the delivery will be handled.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["delivery", "status"],
                    "properties": {"status": {"enum": ["queued", "duplicate", "ignored"]}},
                }
            }
        },
    },
    400: _ERROR_BODY,
    401: _ERROR_BODY,
    408: _ERROR_BODY,
    413: _ERROR_BODY,
    503: _ERROR_BODY,
}
_WEBHOOK_OPENAPI: dict[str, Any] = {
    "summary": "Receive a GitHub webhook delivery",
    "parameters": [
        {
            "name": "X-GitHub-Event",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 100},
        },
        {
            "name": "X-GitHub-Delivery",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        {
            "name": "X-Hub-Signature-256",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
        },
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
}


def _refuse_on_headers(request: Request, secrets: list[bytes]) -> None:
    """Refuse, from the headers alone, what no body could make acceptable: no secret configured, a missing
    or malformed signature, missing or oversized event and delivery headers. Without this an unsigned
    client could make the bot buffer 25 MB per request before being told no."""
    headers = request.headers
    refused = refuse_header(headers.get(SIGNATURE_HEADER), secrets)
    if refused is not None:
        raise _Refusal(401, m.REJECTED_SIGNATURE, refused.reason)
    event = headers.get("x-github-event", "")
    delivery_id = headers.get("x-github-delivery", "")
    if not event or not delivery_id:
        raise _Refusal(400, m.MALFORMED, "missing X-GitHub-Event or X-GitHub-Delivery header")
    if len(event) > _MAX_EVENT_CHARS or len(delivery_id) > _MAX_ID_CHARS:
        raise _Refusal(400, m.MALFORMED, "X-GitHub-Event or X-GitHub-Delivery header is too long")


def _authentic_delivery(
    request: Request, body: bytes, secrets: list[bytes]
) -> tuple[str, str, dict[str, Any]]:
    """(event, delivery id, payload) of a delivery whose signature checks out; raises _Refusal otherwise."""
    headers = request.headers
    signature = verify(body, headers.get(SIGNATURE_HEADER), secrets)
    if not signature.ok:
        raise _Refusal(401, m.REJECTED_SIGNATURE, signature.reason)
    event = headers.get("x-github-event", "")
    delivery_id = headers.get("x-github-delivery", "")
    if not event or not delivery_id:
        raise _Refusal(400, m.MALFORMED, "missing X-GitHub-Event or X-GitHub-Delivery header")
    if len(event) > _MAX_EVENT_CHARS or len(delivery_id) > _MAX_ID_CHARS:
        raise _Refusal(400, m.MALFORMED, "X-GitHub-Event or X-GitHub-Delivery header is too long")
    try:
        payload = json.loads(_json_text(request, body, event))
    except (ValueError, RecursionError) as error:  # RecursionError: JSON nested deeper than Python recurses
        raise _Refusal(400, m.MALFORMED, f"body is not valid JSON: {error}", event) from error
    if not isinstance(payload, dict):
        raise _Refusal(400, m.MALFORMED, "body must be a JSON object", event)
    return event, delivery_id, payload


def _json_text(request: Request, body: bytes, event: str) -> bytes | str:
    # A webhook may be configured with content type application/x-www-form-urlencoded: JSON in `payload=`.
    if _is_json(request):
        return body
    fields = parse_qs(body.decode("utf-8", errors="replace"))
    if "payload" not in fields:
        raise _Refusal(
            400,
            m.MALFORMED,
            "form-encoded body has no 'payload' field: send JSON with Content-Type application/json",
            event,
        )
    return fields["payload"][0]


def _is_json(request: Request) -> bool:
    return not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
