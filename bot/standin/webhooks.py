"""Signed webhook deliveries from the stand-in, sent from a background thread like GitHub's Hookshot."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from bot.standin.spec import WebhookSchemas

USER_AGENT = "GitHub-Hookshot/standin"


@dataclass
class DeliveryRecord:
    """One webhook the stand-in sent (or tried to)."""

    id: str
    event: str
    action: str | None
    payload: dict[str, Any]
    status: int | None = None  # HTTP status from the receiver; None when it could not be reached
    error: str = ""
    duration_s: float = 0.0


def signature(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256` for `body`: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries"""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def conform(value: Any, schema: Any, schemas: WebhookSchemas) -> Any:
    """`value` without the object properties `schema` forbids (`additionalProperties: false`).

    REST shapes carry a few more fields than webhook shapes; GitHub trims them, and so do we. Nothing is
    added: a missing required field still fails validation in the tests.
    """
    schema = _resolve(schema, schemas)
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema, dict) else None
        return [conform(v, items, schemas) for v in value] if items else value
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    branches = [_resolve(s, schemas) for s in schema.get("allOf", [])]
    alternatives = [_resolve(s, schemas) for s in schema.get("oneOf", []) + schema.get("anyOf", [])]
    objects = [s for s in alternatives if isinstance(s, dict) and _is_object_schema(s, schemas)]
    if objects:
        # Pick the alternative that knows most of our keys (e.g. user vs. organization accounts).
        branches.append(max(objects, key=lambda s: len(set(_properties(s, schemas)) & set(value))))
    properties = _properties(schema, schemas)
    closed = schema.get("additionalProperties") is False
    for branch in branches:
        properties = {**properties, **_properties(branch, schemas)}
        closed = closed or branch.get("additionalProperties") is False
    out = {}
    for key, item in value.items():
        if key in properties:
            out[key] = conform(item, properties[key], schemas)
        elif not closed:
            out[key] = item
    return out


def _resolve(schema: Any, schemas: WebhookSchemas) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = schemas.doc["definitions"][name]
    return schema


def _is_object_schema(schema: dict[str, Any], schemas: WebhookSchemas) -> bool:
    return schema.get("type") == "object" or "properties" in schema or "allOf" in schema


def _properties(schema: dict[str, Any], schemas: WebhookSchemas) -> dict[str, Any]:
    props = dict(schema.get("properties", {}))
    for branch in schema.get("allOf", []):
        props.update(_properties(_resolve(branch, schemas), schemas))
    return props


class WebhookSender:
    """Queues deliveries and posts them from one daemon thread, so API calls never wait on the receiver."""

    def __init__(self, url: str | None, secret: str | None, *, timeout: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.deliveries: list[DeliveryRecord] = []
        self._queue: queue.Queue[DeliveryRecord | None] = queue.Queue()
        self._timeout = timeout
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    def start(self) -> None:
        if self._thread is None:
            self._client = httpx.Client(timeout=self._timeout)
            self._thread = threading.Thread(target=self._run, name="standin-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=self._timeout + 1)
            self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def send(
        self, event: str, action: str | None, payload: dict[str, Any], *, delivery_id: str | None = None
    ) -> DeliveryRecord:
        """Queue one delivery; `delivery_id` repeats an earlier one's GUID (a redelivery)."""
        record = DeliveryRecord(delivery_id or str(uuid.uuid4()), event, action, payload)
        self.deliveries.append(record)
        if self.url:
            self._queue.put(record)
        return record

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery was attempted; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _run(self) -> None:
        while True:
            record = self._queue.get()
            try:
                if record is None:
                    return
                self._deliver(record)
            finally:
                self._queue.task_done()

    def _deliver(self, record: DeliveryRecord) -> None:
        assert self.url is not None and self._client is not None
        body = json.dumps(record.payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-GitHub-Event": record.event,
            "X-GitHub-Delivery": record.id,
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-Type": "integration",
        }
        if self.secret:
            headers["X-Hub-Signature-256"] = signature(self.secret, body)
        started = time.perf_counter()
        try:
            response = self._client.post(self.url, content=body, headers=headers)
            record.status = response.status_code
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        record.duration_s = time.perf_counter() - started
