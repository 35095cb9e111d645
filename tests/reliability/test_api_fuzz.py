"""schemathesis against the bot's own OpenAPI description: whatever arrives, no 5xx, and every error
explains itself (a JSON object whose `error` says what was wrong).

The app documents `/webhook` itself (the three headers GitHub sends, a JSON object body, each answer);
OTHER_OPERATIONS fills in what FastAPI leaves as a placeholder on the other routes. Each generated
request is sent twice: as generated (mostly a bad signature: the refusal paths) and signed with the real
secret over the bytes sent (the parsing and recording paths past the signature check).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import GenerationMode

from bot.app import create_app
from bot.core.signature import sign
from bot.settings import Settings

SECRET = "fuzz-secret"

# What the app answers on its other routes, where FastAPI's placeholder says "200, application/json".
OTHER_OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/metrics", "get"): {
        "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {}}}}
    },
    ("/healthz", "get"): {
        "responses": {
            "200": {"description": "The database answers.", "content": {"application/json": {}}},
            "503": {"description": "The database does not answer.", "content": {"application/json": {}}},
        }
    },
}


def described(app: Any) -> dict[str, Any]:
    """The app's OpenAPI description, with what its routes read and answer documented where it is blank."""
    spec: dict[str, Any] = app.openapi()
    overlays = dict(OTHER_OPERATIONS)
    for (path, method), documented in overlays.items():
        operation = spec["paths"][path][method]
        placeholder = set(operation.get("responses", {})) == {"200"} and not operation["responses"][
            "200"
        ].get("content", {}).get("application/json", {}).get("schema")
        for key, value in documented.items():
            if key == "responses" and placeholder:
                operation["responses"] = value
            else:
                operation.setdefault(key, value)
    return spec


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    database = tmp_path_factory.mktemp("fuzz") / "bot.db"
    settings = Settings(webhook_secret=SECRET, database_url=f"sqlite:///{database}", max_body_bytes=64 * 1024)
    app = create_app(settings, start_worker=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _app_for_schema() -> Any:
    # Only the description is needed at collection time; requests go to the module's client.
    return create_app(Settings(webhook_secret=SECRET, database_url="sqlite://"), start_worker=False)


schema = schemathesis.openapi.from_dict(described(_app_for_schema()))
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


def explains_itself(response: Any) -> None:
    assert response.status_code < 500, f"server error {response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        # The app's own refusals say `error`; Starlette's (404, 405) say `detail`. Either explains itself.
        message = body.get("error", body.get("detail")) if isinstance(body, dict) else None
        assert isinstance(message, str) and message.strip(), body


def _send(client: TestClient, case: Any, *, signed: bool) -> Any:
    request = case.as_transport_kwargs(base_url=str(client.base_url))
    headers = {k: str(v) for k, v in (request.get("headers") or {}).items()}
    if "json" in request:
        content = json.dumps(request["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    else:
        raw = request.get("content", request.get("data")) or b""
        content = raw.encode() if isinstance(raw, str) else bytes(raw)
    if signed:
        headers["X-Hub-Signature-256"] = sign(content, SECRET.encode())
    try:
        return client.request(request["method"], case.formatted_path, content=content, headers=headers,
                              params=request.get("params"))  # fmt: skip
    except UnicodeEncodeError:
        hypothesis.reject()  # a header value HTTP cannot carry: not a request anyone can send


@pytest.mark.slow
@schema.parametrize()
@hypothesis.settings(max_examples=150, deadline=None, suppress_health_check=list(hypothesis.HealthCheck),
                     derandomize=True)  # fmt: skip
def test_no_input_gets_a_5xx_or_an_unexplained_error(case: Any, client: TestClient) -> None:
    as_generated = _send(client, case, signed=False)
    explains_itself(as_generated)
    case.validate_response(as_generated)  # schemathesis' checks: status, content type, schema, negative data
    if case.operation.path == "/webhook" and case.method.upper() == "POST":
        signed = _send(client, case, signed=True)
        explains_itself(signed)
        assert signed.status_code in (200, 202, 400, 413), signed.text[:300]


def test_the_description_documents_what_webhook_reads() -> None:
    operation = described(_app_for_schema())["paths"]["/webhook"]["post"]
    headers = {p["name"].lower() for p in operation["parameters"] if p["in"] == "header"}
    assert {"x-github-event", "x-github-delivery", "x-hub-signature-256"} <= headers
    assert {"202", "400", "401", "413"} <= set(operation["responses"])
