"""The stand-in's OAuth web flow: what the dashboard's sign-in meets on github.com, refusals included."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.standin import StandIn
from bot.standin.oauth import register_oauth_client

CALLBACK = "http://bot.local/login/callback"
CLIENT_SECRET = "s3cret"


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    with StandIn(tmp_path_factory.mktemp("gh")) as gh:
        gh.create_user("bob")
        register_oauth_client(gh, "Iv1.dash", CLIENT_SECRET, CALLBACK)
        yield gh


def _code(standin: StandIn, **extra: str) -> str:
    form = {"client_id": "Iv1.dash", "redirect_uri": CALLBACK, "state": "st-1", "login": "bob", **extra}
    answer = httpx.post(standin.html_url + "/login/oauth/authorize", data=form)
    assert answer.status_code == 302
    location = httpx.URL(answer.headers["location"])
    assert str(location).startswith(CALLBACK) and location.params["state"] == "st-1"
    return location.params["code"]


def _exchange(standin: StandIn, code: str, secret: str = CLIENT_SECRET) -> dict[str, str]:
    fields = {"client_id": "Iv1.dash", "client_secret": secret, "code": code, "redirect_uri": CALLBACK}
    answer = httpx.post(
        standin.html_url + "/login/oauth/access_token", data=fields, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 200
    return dict(answer.json())


def test_a_signed_in_user_gets_a_token_that_works_as_them_once(standin: StandIn) -> None:
    page = httpx.get(
        standin.html_url + "/login/oauth/authorize", params={"client_id": "Iv1.dash", "state": "st-1"}
    )
    assert page.status_code == 200 and "<form" in page.text
    code = _code(standin)
    token = _exchange(standin, code)["access_token"]
    assert token.startswith("gho_")
    me = httpx.get(standin.base_url + "/user", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["login"] == "bob"
    assert _exchange(standin, code)["error"] == "bad_verification_code"  # a code is good once


def test_the_flow_refuses_unknown_clients_foreign_callbacks_bad_secrets_and_users(standin: StandIn) -> None:
    authorize = standin.html_url + "/login/oauth/authorize"
    assert httpx.get(authorize, params={"client_id": "Iv1.other"}).status_code == 404
    foreign = {"client_id": "Iv1.dash", "redirect_uri": "http://evil.example/cb"}
    assert httpx.get(authorize, params=foreign).status_code == 404
    assert httpx.post(authorize, data={**foreign, "login": "bob"}).status_code == 404
    assert httpx.post(authorize, data={"client_id": "Iv1.dash", "login": "nobody"}).status_code == 401
    assert _exchange(standin, _code(standin), secret="wrong")["error"] == "incorrect_client_credentials"


def test_the_web_host_answers_404_elsewhere(standin: StandIn) -> None:
    assert httpx.get(standin.html_url + "/login/other").status_code == 404
