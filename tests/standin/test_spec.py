"""GitHub's descriptions as the stand-in uses them, and the real payload fixtures other tests replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.standin.spec import rest_spec, webhook_schemas

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


def _event_action(name: str) -> tuple[str, str | None]:
    parts = name.removesuffix(".json").split(".")
    return parts[0], (parts[1] if len(parts) > 1 else None)


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_webhook_fixtures_validate_against_githubs_schemas(fixture: str) -> None:
    event, action = _event_action(fixture)
    payload = json.loads((FIXTURES / fixture).read_text())
    assert payload.get("action") == action
    assert webhook_schemas().errors(event, action, payload) == []


def test_fixture_set_is_complete() -> None:
    names = {p.name for p in FIXTURES.glob("*.json")}
    assert {
        "pull_request.opened.json",
        "pull_request.synchronize.json",
        "pull_request.closed.json",
        "pull_request.closed.merged.json",
        "issue_comment.created.json",
        "issue_comment.created.pull_request.json",
        "push.json",
        "issues.opened.json",
    } <= names
    merged = json.loads((FIXTURES / "pull_request.closed.merged.json").read_text())
    assert merged["pull_request"]["merged"] is True
    on_pull = json.loads((FIXTURES / "issue_comment.created.pull_request.json").read_text())
    assert "pull_request" in on_pull["issue"]


def test_a_broken_payload_is_caught() -> None:
    payload = json.loads((FIXTURES / "issues.opened.json").read_text())
    del payload["issue"]["number"]
    payload["surprise"] = 1
    errors = webhook_schemas().errors("issues", "opened", payload)
    assert any("number" in e for e in errors) and any("surprise" in e for e in errors)


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/repos/o/r/commits/feature/x/check-runs", "checks/list-for-ref"),
        ("GET", "/repos/o/r/commits/feature/x", "repos/get-commit"),
        ("GET", "/repos/o/r/commits/abc/status", "repos/get-combined-status-for-ref"),
        ("GET", "/repos/o/r/contents/a/b/c.yaml", "repos/get-content"),
        ("GET", "/repos/o/r/git/ref/heads/feature/x", "git/get-ref"),
        ("GET", "/repos/o/r/git/refs/heads/feature/x", "git/get-ref"),
        ("PATCH", "/repos/o/r/git/refs/heads/feature/x", "git/update-ref"),
        ("GET", "/repos/o/r/issues/comments/5", "issues/get-comment"),
        ("GET", "/repos/o/r/issues/5", "issues/get"),
    ],
)
def test_routes_match_like_github(method: str, path: str, operation: str) -> None:
    match = rest_spec().match(method, path)
    assert match is not None and match.operation.operation_id == operation


def test_query_and_path_types_are_checked() -> None:
    spec = rest_spec()
    match = spec.match("GET", "/repos/o/r/pulls")
    assert match is not None
    assert spec.validate(match, {"state": ["open"], "per_page": ["5"]}, b"").query == {
        "state": "open",
        "per_page": 5,
    }
    assert spec.validate(match, {"state": ["merged"]}, b"").problems
    assert spec.validate(match, {"per_page": ["many"]}, b"").problems
    bad_number = spec.match("GET", "/repos/o/r/pulls/abc")
    assert bad_number is not None and spec.validate(bad_number, {}, b"").problems
