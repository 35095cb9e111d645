"""`POST /mlflow/webhook`: MLflow registry deliveries are verified, stored once, and queued like GitHub's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.core.signature import sign_mlflow
from bot.settings import Settings

BODY = (
    b'{"entity": "model_version_alias", "action": "created", "data": {"name": "churn", "alias": "champion"}}'
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, object]]:
    settings = Settings(
        webhook_secret="gh",
        mlflow_webhook_secret="ml-secret",
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
    )
    app = create_app(settings, start_worker=False)
    with TestClient(app) as test_client:
        yield test_client, app.state.store


def headers(
    delivery: str, *, secret: bytes = b"ml-secret", age: float = 0.0, body: bytes = BODY
) -> dict[str, str]:
    stamp = str(int(time.time() - age))
    return {
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": sign_mlflow(delivery, stamp, body, secret),
        "Content-Type": "application/json",
    }


def test_a_signed_delivery_is_queued_once(client: tuple[TestClient, object]) -> None:
    http, store = client
    first = http.post("/mlflow/webhook", content=BODY, headers=headers("d-1"))
    again = http.post("/mlflow/webhook", content=BODY, headers=headers("d-1"))
    assert (first.status_code, first.json()["status"]) == (202, "queued")
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")
    [row] = [r for r in store.list() if r.id == "mlflow:d-1"]  # type: ignore[attr-defined]
    assert (row.event, row.action) == ("mlflow", "model_version_alias.created")


@pytest.mark.parametrize(
    ("case", "why"),
    [("wrong secret", "does not match"), ("an hour old", "replay"), ("unsigned", "missing")],
)
def test_unauthentic_deliveries_are_refused_and_not_stored(
    client: tuple[TestClient, object], case: str, why: str
) -> None:
    http, store = client
    hdrs = {
        "wrong secret": lambda: headers("d-2", secret=b"wrong"),
        "an hour old": lambda: headers("d-3", age=3600),
        "unsigned": lambda: {"Content-Type": "application/json"},
    }[case]()  # built now: a timestamp made at collection time would already be stale
    answer = http.post("/mlflow/webhook", content=BODY, headers=hdrs)
    assert answer.status_code == 401 and why in answer.json()["error"]
    assert store.list() == []  # type: ignore[attr-defined]


def test_malformed_json_behind_a_valid_signature_is_a_400(client: tuple[TestClient, object]) -> None:
    http, _ = client
    body = b"not json"
    answer = http.post("/mlflow/webhook", content=body, headers=headers("d-4", body=body))
    assert answer.status_code == 400 and "entity" in answer.json()["error"]


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf", "-inf", "infinity", "1e999"])
def test_a_non_finite_timestamp_does_not_skip_the_replay_window(
    client: tuple[TestClient, object], stamp: str
) -> None:
    """float("nan") compares false with everything, so `abs(now - nan) > 300` never refused it."""
    http, store = client
    hdrs = {
        "X-MLflow-Delivery-Id": "d-nan",
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": sign_mlflow("d-nan", stamp, BODY, b"ml-secret"),
        "Content-Type": "application/json",
    }
    answer = http.post("/mlflow/webhook", content=BODY, headers=hdrs)
    assert answer.status_code == 401, answer.text
    assert "X-MLflow-Timestamp" in answer.json()["error"]
    assert store.list() == []  # type: ignore[attr-defined]
