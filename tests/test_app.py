"""The webhook endpoint, through FastAPI's TestClient for the quick cases and a real uvicorn on loopback for
concurrency. Every delivery lands in a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from bot.adapters.store import Store
from bot.app import create_app
from bot.core.events import Delivery
from bot.core.signature import sign
from bot.settings import Settings

SECRET = "webhook-secret"
COMMENT = {"action": "created", "comment": {"body": "/card"}, "repository": {"full_name": "acme/churn"}}


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"webhook_secret": SECRET, "database_url": f"sqlite:///{tmp_path / 'bot.db'}"}
    return Settings(**{**values, **overrides})


def _headers(
    body: bytes, event: str = "issue_comment", delivery: str = "d-1", **extra: str
) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(body, SECRET.encode()),
        "Content-Type": "application/json",
        **extra,
    }


def _body(payload: Any = COMMENT) -> bytes:
    return json.dumps(payload).encode()


def _metric(client: TestClient, outcome: str, event: str = "issue_comment") -> float:
    wanted = f'mlops_bot_deliveries_received_total{{event="{event}",outcome="{outcome}"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(wanted):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path), start_worker=False)
    with TestClient(app) as client:
        yield client


def _store(client: TestClient) -> Store:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    return store


def test_a_signed_delivery_is_queued(client: TestClient) -> None:
    body = _body()
    response = client.post("/webhook", content=body, headers=_headers(body))
    assert response.status_code == 202
    assert response.json() == {"delivery": "d-1", "status": "queued"}
    delivery = _store(client).claim("w")
    assert delivery is not None
    assert (delivery.name, delivery.repo, delivery.payload) == (
        "issue_comment.created",
        "acme/churn",
        COMMENT,
    )


def test_another_method_on_the_webhook_is_told_to_post(client: TestClient) -> None:
    response = client.get("/webhook")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "POST" in response.json()["error"]
    assert _store(client).queue_depth() == 0


def test_a_redelivery_gives_one_job(client: TestClient) -> None:
    body = _body()
    statuses = [
        client.post("/webhook", content=body, headers=_headers(body)).json()["status"] for _ in range(3)
    ]
    assert statuses == ["queued", "duplicate", "duplicate"]
    assert [r.id for r in _store(client).list()] == ["d-1"]
    assert _metric(client, "accepted") == 1
    assert _metric(client, "duplicate") == 2


@pytest.mark.parametrize(
    ("case", "signature", "says"),
    [
        ("wrong secret", sign(_body(), b"not-the-secret"), "does not match"),
        ("missing", None, "missing X-Hub-Signature-256"),
        ("malformed", "sha1=abc", "malformed"),
    ],
)
def test_a_bad_signature_is_refused_and_nothing_is_stored(
    client: TestClient, case: str, signature: str | None, says: str
) -> None:
    body = _body()
    headers = _headers(body)
    del headers["X-Hub-Signature-256"]
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    response = client.post("/webhook", content=body, headers=headers)
    assert response.status_code == 401, case
    assert says in response.json()["error"]
    assert _store(client).list() == []
    assert _metric(client, "rejected_signature", event="unverified") == 1


def test_without_a_configured_secret_everything_is_refused_with_how_to_fix_it(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, webhook_secret=""), start_worker=False)
    with TestClient(app) as client:
        body = _body()
        response = client.post("/webhook", content=body, headers=_headers(body))
        assert response.status_code == 401
        assert "MLOPS_BOT_WEBHOOK_SECRET" in response.json()["error"]
        assert _store(client).list() == []


@pytest.mark.parametrize(
    ("case", "body", "drop", "says"),
    [
        ("not JSON", b"{not json", None, "not valid JSON"),
        ("a JSON list", b"[1, 2]", None, "JSON object"),
        ("no event header", _body(), "X-GitHub-Event", "X-GitHub-Event"),
        ("no delivery header", _body(), "X-GitHub-Delivery", "X-GitHub-Delivery"),
    ],
)
def test_a_malformed_delivery_behind_a_valid_signature_is_a_400(
    client: TestClient, case: str, body: bytes, drop: str | None, says: str
) -> None:
    headers = _headers(body)
    if drop:
        del headers[drop]
    response = client.post("/webhook", content=body, headers=headers)
    assert response.status_code == 400, case
    assert says in response.json()["error"]
    assert _store(client).list() == []


def test_an_oversized_body_is_a_413_whether_declared_or_streamed(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, max_body_bytes=1000), start_worker=False)
    big = _body({"action": "created", "padding": "x" * 2000})
    with TestClient(app) as client:
        declared = client.post("/webhook", content=big, headers=_headers(big))
        assert declared.status_code == 413
        assert "larger than 1000 bytes" in declared.json()["error"]

        def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to check up front
            for start in range(0, len(big), 100):
                yield big[start : start + 100]

        streamed = client.post("/webhook", content=chunks(), headers=_headers(big))
        assert streamed.status_code == 413
        assert _store(client).list() == []
        assert _metric(client, "too_large", event="unverified") == 2


def test_ping_is_answered_with_zen_and_not_queued(client: TestClient) -> None:
    body = _body({"zen": "Design for failure.", "hook_id": 7})
    response = client.post("/webhook", content=body, headers=_headers(body, event="ping"))
    assert response.status_code == 200
    assert response.json() == {"zen": "Design for failure.", "hook_id": 7}
    assert _store(client).list() == []


def test_a_form_encoded_delivery_is_accepted(client: TestClient) -> None:
    body = httpx.QueryParams({"payload": json.dumps(COMMENT)}).__str__().encode()
    headers = _headers(body, **{"Content-Type": "application/x-www-form-urlencoded"})
    response = client.post("/webhook", content=body, headers=headers)
    assert response.status_code == 202
    delivery = _store(client).claim("w")
    assert delivery is not None and delivery.payload == COMMENT


def test_metrics_count_outcomes_and_show_the_queue(client: TestClient) -> None:
    body = _body()
    client.post("/webhook", content=body, headers=_headers(body, delivery="a"))
    client.post("/webhook", content=body, headers=_headers(body, delivery="b"))
    client.post("/webhook", content=b"[]", headers=_headers(b"[]", delivery="c"))
    text = client.get("/metrics").text
    assert _metric(client, "accepted") == 2
    assert _metric(client, "malformed") == 1
    assert "mlops_bot_queue_depth 2.0" in text
    assert "mlops_bot_job_duration_seconds" in text


def test_healthz_reports_the_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    app = create_app(_settings(tmp_path, database_url=f"sqlite:///{data / 'bot.db'}"), start_worker=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        shutil.rmtree(data)
        _store(client).close()  # drop pooled connections: the next one must open the (gone) file
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"


def test_the_in_process_worker_runs_the_handler(tmp_path: Path) -> None:
    handled: list[Delivery] = []
    done = threading.Event()

    def handle(delivery: Delivery) -> None:
        handled.append(delivery)
        done.set()

    app = create_app(_settings(tmp_path), handle=handle, poll_interval=30)
    with TestClient(app) as client:
        body = _body()
        assert client.post("/webhook", content=body, headers=_headers(body)).status_code == 202
        assert done.wait(5)  # woken by the request, not by its 30 s poll
        deadline = time.monotonic() + 5
        while _store(client).queue_depth() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [d.name for d in handled] == ["issue_comment.created"]
        assert _store(client).list()[0].status == "done"


# ---- a real server on loopback -----------------------------------------------------------------------


@pytest.fixture
def live_url(tmp_path: Path) -> Iterator[str]:
    app = create_app(_settings(tmp_path), start_worker=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


async def _post_all(url: str, requests: list[tuple[bytes, dict[str, str]]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await asyncio.gather(*(http.post("/webhook", content=b, headers=h) for b, h in requests))


def test_concurrent_redeliveries_over_http_give_one_job(live_url: str, tmp_path: Path) -> None:
    body = _body()
    same = [(body, _headers(body, delivery="same")) for _ in range(30)]
    distinct = [(body, _headers(body, delivery=f"d-{n}")) for n in range(30)]
    responses = asyncio.run(_post_all(live_url, same + distinct))
    assert {r.status_code for r in responses} == {202}
    statuses = [r.json()["status"] for r in responses[:30]]
    assert statuses.count("queued") == 1 and statuses.count("duplicate") == 29
    assert all(r.json()["status"] == "queued" for r in responses[30:])
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    assert store.queue_depth() == 31
    store.close()


def test_a_401_over_http_stores_nothing(live_url: str, tmp_path: Path) -> None:
    body = _body()
    response = httpx.post(f"{live_url}/webhook", content=body, headers=_headers(body, **{
        "X-Hub-Signature-256": sign(body, b"guess")}))  # fmt: skip
    assert response.status_code == 401
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    assert store.list() == []
    store.close()


# ---- the web process stays light -----------------------------------------------------------------------

HEAVY = ("mlflow", "dvc", "bentoml", "evidently", "sklearn", "pandas")


@pytest.mark.slow
def test_creating_the_app_imports_no_ml_sdk(tmp_path: Path) -> None:
    script = f"""
import sys
from bot.app import create_app
from bot.settings import Settings
settings = Settings(webhook_secret="s", database_url="sqlite:///{tmp_path / "bot.db"}", github_token="t")
create_app(settings)  # as `mlops-bot serve` does: default handlers, in-process worker
print(",".join(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"the web process imported {result.stdout.strip()}"


def test_healthz_is_degraded_while_every_delivery_would_be_refused(tmp_path: Path) -> None:
    """No webhook secret: alive, but useless; /healthz and /metrics say so (issue 17)."""
    app = create_app(_settings(tmp_path, webhook_secret=""), start_worker=False)
    with TestClient(app) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert "MLOPS_BOT_WEBHOOK_SECRET" in health.json()["problems"][0]
        assert 'mlops_bot_config_problems{problem="no_webhook_secret"} 1.0' in client.get("/metrics").text
    (tmp_path / "ok").mkdir()
    with TestClient(create_app(_settings(tmp_path / "ok"), start_worker=False)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
