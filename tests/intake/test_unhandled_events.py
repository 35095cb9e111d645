"""Issue 18, finding 8: `X-GitHub-Event` is outside the signed body, so only events the bot handles are
stored with their payload and get their own metric label; others are acknowledged and recorded bare."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.adapters.store import DONE, Store, deliveries
from bot.app import HANDLED_EVENTS, create_app
from bot.core.signature import sign
from bot.demo import BotServer
from bot.github_webhook import UNHANDLED_EVENT
from bot.settings import Settings
from tests.reliability.harness import free_port

SECRET = "unhandled-secret"
BODY = json.dumps({"action": "created", "repository": {"full_name": "acme/model"}, "pad": "x" * 50_000})


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    settings = Settings(webhook_secret=SECRET, database_url=f"sqlite:///{tmp_path / 'bot.db'}")
    store = Store(settings.database_url)
    server = BotServer(create_app(settings, store=store, start_worker=False), free_port())
    try:
        yield server.start(), store
    finally:
        server.stop()
        store.close()


def _post(url: str, event: str, delivery: str) -> httpx.Response:
    body = BODY.encode()
    return httpx.post(f"{url}/webhook", content=body, headers={
        "Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(body, SECRET.encode())})  # fmt: skip


def _payload(store: Store, delivery: str) -> bytes:
    with store._engine.connect() as conn:
        return bytes(
            conn.execute(select(deliveries.c.payload).where(deliveries.c.id == delivery)).scalar_one()
        )


def test_an_event_without_a_handler_is_acknowledged_but_its_payload_is_not_stored(
    served: tuple[str, Store],
) -> None:
    url, store = served
    forged = "x" * 90  # any name fits in the header: a signed body replayed under an invented event
    first = _post(url, forged, "d-1")
    assert first.status_code == 202 and first.json()["status"] == "ignored"
    assert "no handler" in first.json()["note"]
    assert _post(url, forged, "d-1").json()["status"] == "duplicate"
    row = store.get("d-1")
    assert row is not None and row.status == DONE
    assert _payload(store, "d-1") == b""
    assert store.queue_depth() == 0

    text = httpx.get(f"{url}/metrics").text
    assert forged not in text  # one label for every unhandled name, not one per name
    assert f'event="{UNHANDLED_EVENT}",outcome="accepted"}} 1.0' in text


def test_a_handled_event_is_stored_with_its_payload(served: tuple[str, Store]) -> None:
    url, store = served
    assert _post(url, "issue_comment", "d-2").json()["status"] == "queued"
    assert _payload(store, "d-2") == BODY.encode()
    row = store.get("d-2")
    assert row is not None and row.status == "queued"


def test_the_web_paths_list_of_handled_events_is_the_handlers_list() -> None:
    from bot.handlers import routes
    from bot.handlers.context import JOB_EVENT
    from bot.mlflow_webhook import EVENT as MLFLOW_EVENT

    github_events = {name.split(".")[0] for name in routes()} - {JOB_EVENT, MLFLOW_EVENT}
    assert github_events == set(HANDLED_EVENTS)
