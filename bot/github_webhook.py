"""`POST /webhook`: a GitHub delivery is authenticated, validated and durably recorded, then answered 202.

The web path does only that; handlers run in a worker, because GitHub gives up on a delivery after 10 seconds
and never retries it by itself (https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks).

Deliveries are the one request GitHub sends at volume, so this endpoint is an ASGI app of its own that the app
calls before any of FastAPI's layers (bot.app.BotApp): FastAPI's telemetry check, middleware, request objects,
route matching and dependency solving cost more CPU per delivery than the intake's own work (measured in
process: 249 us of app CPU per delivery through a FastAPI route; bench/README.md). Everything else the bot
serves stays FastAPI.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from bot import metrics as m
from bot.adapters.store import GroupCommitter, Store, StoreUnavailable, repository_of
from bot.core.signature import refuse_header, verify
from bot.intake import BodyReader, BodyRefused

log = logging.getLogger(__name__)

PATH = "/webhook"
# Hashing and parsing a body this big would stall the event loop for every other request: do it in a thread.
_OFFLOAD_BYTES = 1024 * 1024
_MAX_ID_CHARS = 200
_MAX_EVENT_CHARS = 100
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


class WebhookIntake:
    """The ASGI app for `POST /webhook`. `wake` is called once a new delivery is recorded (the in-process
    worker's wake-up)."""

    def __init__(
        self,
        *,
        secrets: list[bytes],
        reader: BodyReader,
        committer: GroupCommitter,
        store: Store,
        metrics: m.Metrics,
        handled_events: Collection[str],
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.secrets = secrets
        self.reader = reader
        self.committer = committer
        self.store = store
        self.metrics = metrics
        self.handled_events = handled_events
        self.wake = wake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _send_json(send, 405, {"error": "POST a GitHub delivery here"}, {"Allow": "POST"})
            return
        status, answer, headers = await self._answer(scope, receive)
        await _send_json(send, status, answer, headers)

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any], dict[str, str]]:
        headers = _headers(scope)
        try:
            _refuse_on_headers(headers, self.secrets)  # before reading a byte of the body
            try:
                body = await self.reader.read(headers.get("content-length"), _body_chunks(receive))
            except BodyRefused as refused:
                raise _Refusal(
                    refused.status, refused.outcome, refused.message, headers=refused.headers
                ) from refused
            if len(body) > _OFFLOAD_BYTES:
                event, delivery_id, payload = await run_in_threadpool(
                    _authentic_delivery, headers, body, self.secrets
                )
            else:
                event, delivery_id, payload = _authentic_delivery(headers, body, self.secrets)
        except _Refusal as refusal:
            self.metrics.delivery(refusal.event, refusal.outcome)
            if refusal.outcome == m.REJECTED_SIGNATURE:
                client = scope.get("client")
                log.warning(
                    "refused a delivery from %s: %s", client[0] if client else "unknown", refusal.message
                )
            return refusal.status, {"error": refusal.message}, refusal.headers

        if event == "ping":  # GitHub's "hello" when a webhook is created: nothing to do
            self.metrics.delivery(event, m.PING)
            return 200, {"zen": payload.get("zen"), "hook_id": payload.get("hook_id")}, {}

        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        if event not in self.handled_events:
            return await self._record_unhandled(delivery_id, event, action)
        raw = body if _is_json(headers) else orjson.dumps(payload)
        try:
            accepted = await self.committer.accept(delivery_id, event, action, raw, repository_of(payload))
        except StoreUnavailable as error:
            self.metrics.delivery(event, m.STORE_ERROR)
            return 503, {"error": f"{error}; the delivery was not recorded, redeliver it later"}, {}
        self.metrics.delivery(event, m.ACCEPTED if accepted else m.DUPLICATE)
        if accepted and self.wake is not None:
            self.wake()
        return 202, {"delivery": delivery_id, "status": "queued" if accepted else "duplicate"}, {}

    async def _record_unhandled(
        self, delivery_id: str, event: str, action: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """`X-GitHub-Event` is outside the signed body, so a replayed signed body can arrive under any event
        name: deliveries of other events are acknowledged and recorded without their payload (dedupe still
        works), and counted under one metric label, not one per name."""
        try:
            recorded = await run_in_threadpool(self.store.record_unhandled, delivery_id, event, action)
        except Exception as error:
            self.metrics.delivery(UNHANDLED_EVENT, m.STORE_ERROR)
            return 503, {"error": f"could not record the delivery: {type(error).__name__}"}, {}
        self.metrics.delivery(UNHANDLED_EVENT, m.ACCEPTED if recorded else m.DUPLICATE)
        answer = {
            "delivery": delivery_id,
            "status": "ignored" if recorded else "duplicate",
            "note": f"mlops-bot has no handler for {event!r} events: recorded without its payload",
        }
        return 202, answer, {}


_READ_HEADERS = frozenset(
    {b"content-length", b"content-type", b"x-github-event", b"x-github-delivery", b"x-hub-signature-256"}
)


def _headers(scope: Scope) -> dict[str, str]:
    """The headers the intake reads, first value of each (as Starlette's Headers.get gives it; ASGI servers
    lowercase the names)."""
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in reversed(scope["headers"])
        if name in _READ_HEADERS
    }


async def _body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyRefused(400, m.MALFORMED, "the client disconnected before the body ended")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _send_json(send: Send, status: int, answer: dict[str, Any], headers: dict[str, str]) -> None:
    body = orjson.dumps(answer)
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def _refuse_on_headers(headers: dict[str, str], secrets: list[bytes]) -> None:
    """Refuse, from the headers alone, what no body could make acceptable: no secret configured, a missing
    or malformed signature, missing or oversized event and delivery headers. Without this an unsigned
    client could make the bot buffer 25 MB per request before being told no."""
    refused = refuse_header(headers.get("x-hub-signature-256"), secrets)
    if refused is not None:
        raise _Refusal(401, m.REJECTED_SIGNATURE, refused.reason)
    _event_and_delivery(headers)


def _event_and_delivery(headers: dict[str, str]) -> tuple[str, str]:
    event = headers.get("x-github-event", "")
    delivery_id = headers.get("x-github-delivery", "")
    if not event or not delivery_id:
        raise _Refusal(400, m.MALFORMED, "missing X-GitHub-Event or X-GitHub-Delivery header")
    if len(event) > _MAX_EVENT_CHARS or len(delivery_id) > _MAX_ID_CHARS:
        raise _Refusal(400, m.MALFORMED, "X-GitHub-Event or X-GitHub-Delivery header is too long")
    return event, delivery_id


def _authentic_delivery(
    headers: dict[str, str], body: bytes, secrets: list[bytes]
) -> tuple[str, str, dict[str, Any]]:
    """(event, delivery id, payload) of a delivery whose signature checks out; raises _Refusal otherwise."""
    signature = verify(body, headers.get("x-hub-signature-256"), secrets)
    if not signature.ok:
        raise _Refusal(401, m.REJECTED_SIGNATURE, signature.reason)
    event, delivery_id = _event_and_delivery(headers)
    try:
        payload = orjson.loads(_json_text(headers, body, event))
    except ValueError as error:  # orjson.JSONDecodeError, also for JSON nested over 1,024 deep
        raise _Refusal(400, m.MALFORMED, f"body is not valid JSON: {error}", event) from error
    if not isinstance(payload, dict):
        raise _Refusal(400, m.MALFORMED, "body must be a JSON object", event)
    return event, delivery_id, payload


def _json_text(headers: dict[str, str], body: bytes, event: str) -> bytes | str:
    # A webhook may be configured with content type application/x-www-form-urlencoded: JSON in `payload=`.
    if _is_json(headers):
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


def _is_json(headers: dict[str, str]) -> bool:
    return not headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


# What /webhook reads and answers, for the bot's own OpenAPI description (schemathesis fuzzes against it).
def openapi_operation(error_body: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": "Receive a GitHub webhook delivery",
        "operationId": "webhook",
        "parameters": [
            {
                "name": "X-GitHub-Event",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": _MAX_EVENT_CHARS},
            },
            {
                "name": "X-GitHub-Delivery",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": _MAX_ID_CHARS},
            },
            {
                "name": "X-Hub-Signature-256",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
            },
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {
            "200": {"description": "A ping: GitHub's hello when the webhook is created."},
            "202": {
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
            **{str(code): error_body for code in (400, 401, 405, 408, 413, 503)},
        },
    }
