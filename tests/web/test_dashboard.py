"""The dashboard over HTTP, as a reader's browser meets it: default deny, sign-in with GitHub, a repository
shown only to who can read it (a direct URL answers 404 to the others), sign-out with CSRF, the admin-only
queue page, security headers, and the off switch."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.adapters.store import Store
from bot.app import create_app
from bot.settings import Settings
from tests.web.conftest import MODEL, REPO, World

MODEL_PAGE = f"/repos/{REPO}/models/{MODEL}"


def test_signed_out_every_page_and_report_sends_the_reader_to_sign_in(world: World) -> None:
    anonymous = httpx.Client(base_url=world.bot_url)
    for path in ("/", f"/repos/{REPO}", MODEL_PAGE, "/queue", world.report_path):
        answer = anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=%2F"), path
        assert MODEL not in answer.text


def test_a_reader_signs_in_and_sees_the_model_its_timeline_and_charts(world: World) -> None:
    bob = world.sign_in("bob")
    index = bob.get("/")
    assert index.status_code == 200 and REPO in index.text and MODEL_PAGE in index.text
    page = bob.get(MODEL_PAGE)
    assert page.status_code == 200
    text = page.text
    assert "Champion: <strong>version 3</strong>" in text
    assert f"{world.standin.html_url}/{REPO}/pull/{world.champion_pr}" in text  # the champion's PR, on GitHub
    champion_row = text.split('<tr class="is-champion">')[1].split("</tr>")[0]
    assert "<td>alice</td><td>bob</td>" in champion_row  # who merged it and who approved it, from GitHub
    assert "success: accuracy 0.91 (+0.02 vs champion): gates pass" in champion_row  # the gate's verdict
    history = text.split("Promotions and rollbacks</h3>")[1].split("</table>")[0]
    assert (
        history.count('<tr><th scope="row">') == 3 and "rollback from v4" in history and ">9<" not in history
    )
    assert text.count('<tr class="is-champion">') == 1 and "champion" in text and "previous" in text
    assert "accuracy by version" in text and "f1 by version" in text
    assert "Drift share per check" in text and "accuracy on labelled batches" in text
    assert "Retrain schedule: next retrain due on 2025-02-02 12:00 UTC" in text
    assert f"{world.standin.html_url}/{REPO}/issues/7" in text and f"/{REPO}/pull/8" in text
    assert f'href="{world.bot_url}{world.report_path}"' in text
    # every chart has a text alternative: a title and a description it is labelled by
    for svg in re.findall(r"<svg[^>]*>.*?</svg>", text, flags=re.S):
        labelled = re.search(r'aria-labelledby="([^"]+)"', svg)
        assert labelled and 'role="img"' in svg
        for ref in labelled.group(1).split():
            assert re.search(rf'id="{ref}">[^<]+<', svg)
    report = bob.get(world.report_path)
    assert report.status_code == 200 and b"Data drift" in report.content


def test_the_session_cookie_is_signed_httponly_and_lax_and_holds_no_token(world: World) -> None:
    client = httpx.Client(base_url=world.bot_url)
    to_github = client.get("/login")
    state_cookie = to_github.headers["set-cookie"]
    assert "HttpOnly" in state_cookie and "SameSite=lax" in state_cookie
    authorize = httpx.URL(to_github.headers["location"])
    assert authorize.params["client_id"] == "Iv1.dashboard" and len(authorize.params["state"]) >= 32
    granted = httpx.post(
        f"{world.standin.html_url}/login/oauth/authorize", data={**dict(authorize.params), "login": "bob"}
    )
    landed = client.get(httpx.URL(granted.headers["location"]).raw_path.decode())
    session_cookie = [
        h for k, h in landed.headers.multi_items() if k == "set-cookie" and "mlops_bot_session" in h
    ]
    assert session_cookie and "HttpOnly" in session_cookie[0] and "SameSite=lax" in session_cookie[0]
    assert "gho_" not in session_cookie[0] and "gho_" not in landed.headers.get("location", "")
    forged = httpx.Client(base_url=world.bot_url, cookies={"mlops_bot_session": "bob.forged"})
    assert forged.get("/").status_code == 303


def test_a_callback_whose_state_does_not_match_is_refused(world: World) -> None:
    client = httpx.Client(base_url=world.bot_url)
    to_github = client.get("/login")
    authorize = httpx.URL(to_github.headers["location"])
    forged = {**dict(authorize.params), "state": "attacker-state", "login": "bob"}
    granted = httpx.post(f"{world.standin.html_url}/login/oauth/authorize", data=forged)
    answer = client.get(httpx.URL(granted.headers["location"]).raw_path.decode())
    assert answer.status_code == 400 and "state" in answer.text
    assert client.get("/").status_code == 303  # still signed out


def test_a_user_without_read_permission_sees_nothing_of_the_repository(world: World) -> None:
    eve = world.sign_in("eve")
    index = eve.get("/")
    assert index.status_code == 200 and REPO not in index.text and MODEL not in index.text
    for path in (f"/repos/{REPO}", MODEL_PAGE, world.report_path, "/queue"):
        answer = eve.get(path)
        assert answer.status_code == 404 and MODEL not in answer.text, path
    assert eve.get("/repos/acme/nothing/models/x").status_code == 404  # the same answer as a missing one


def test_queue_health_is_for_admins(world: World) -> None:
    assert world.sign_in("bob").get("/queue").status_code == 404
    queue = world.sign_in("alice").get("/queue")
    assert queue.status_code == 200
    assert "DriftConfigError: prod.csv: no such file" in queue.text and "job:drift:acme/churn@x" in queue.text


def test_every_page_carries_the_security_headers(world: World) -> None:
    bob = world.sign_in("bob")
    for path in ("/", MODEL_PAGE, "/static/dashboard.css"):
        headers = bob.get(path).headers
        policy = headers["content-security-policy"]
        assert "unsafe-inline" not in policy and "script-src" not in policy and "default-src 'none'" in policy
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_signing_out_takes_the_session_csrf_token(world: World) -> None:
    bob = world.sign_in("bob")
    assert bob.post("/logout", data={"csrf": "wrong"}).status_code == 403
    assert bob.get("/").status_code == 200  # the forged form changed nothing
    csrf = re.search(r'name="csrf" value="([^"]+)"', bob.get("/").text)
    assert csrf is not None
    assert bob.post("/logout", data={"csrf": csrf.group(1)}).status_code == 303
    assert bob.get("/").status_code == 303


def test_the_dashboard_can_be_switched_off(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'off.db'}")
    app = create_app(Settings(webhook_secret="s", dashboard="off"), store=store, start_worker=False)
    client = TestClient(app)
    for path in ("/", "/login", MODEL_PAGE, "/queue"):
        assert client.get(path, follow_redirects=False).status_code == 404, path
    assert client.get("/healthz").status_code == 200
    store.close()


def test_no_token_reaches_a_log_line(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bob = world.sign_in("bob")
    assert bob.get(MODEL_PAGE).status_code == 200
    assert "bob signed in to the dashboard" in caplog.text
    assert "gho_" not in caplog.text and "dashboard-client-secret" not in caplog.text
