"""GitHub's OAuth web flow, as the stand-in serves it on its web host (not under /api/v3):
`GET /login/oauth/authorize` (the sign-in and authorize page), `POST /login/oauth/authorize` (the user
signs in and authorizes: redirect to the app's callback with `code` and `state`), and
`POST /login/oauth/access_token` (the app trades the code for a user token).

Faithful where a client can tell: an unknown `client_id` or a `redirect_uri` outside the registered
callback is refused on the page; the code is single-use, bound to its client and redirect URI, and dies
after 10 minutes; errors of the token exchange are 200 with an `error` field, as on github.com; the user
token (`gho_...`) then works on the REST API as that user.
See https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

from bot.standin.model import Token

if TYPE_CHECKING:
    from bot.standin.server import StandIn

AUTHORIZE_PATH = "/login/oauth/authorize"
EXCHANGE_PATH = "/login/oauth/access_token"
CODE_SECONDS = 600
_DOCS = (
    "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"
)


@dataclass
class _Client:
    secret: str
    callback_url: str


@dataclass
class _Code:
    client_id: str
    login: str
    redirect_uri: str
    expires_at: float


@dataclass
class OAuthState:
    clients: dict[str, _Client] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATES: weakref.WeakKeyDictionary[StandIn, OAuthState] = weakref.WeakKeyDictionary()


def _state(standin: StandIn) -> OAuthState:
    return _STATES.setdefault(standin, OAuthState())


def register_oauth_client(standin: StandIn, client_id: str, client_secret: str, callback_url: str) -> None:
    """The App's client id and secret, and its callback URL (GitHub's "Callback URL" setting)."""
    _state(standin).clients[client_id] = _Client(client_secret, callback_url)


@dataclass(frozen=True)
class WebReply:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    location: str = ""


def handle_web(standin: StandIn, method: str, path: str, query: str, body: bytes) -> WebReply | None:
    """The answer to a web-flow request; None when `path` is not one of the web flow's."""
    if path == AUTHORIZE_PATH and method == "GET":
        return _authorize_page(standin, _single(parse_qs(query)))
    if path == AUTHORIZE_PATH and method == "POST":
        return _authorize(standin, _single(parse_qs(body.decode(errors="replace"))))
    if path == EXCHANGE_PATH and method == "POST":
        fields = {**_single(parse_qs(query)), **_single(parse_qs(body.decode(errors="replace")))}
        return _exchange(standin, fields)
    return None


def _single(fields: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in fields.items() if v}


def _client_problem(state: OAuthState, fields: dict[str, str]) -> str:
    client = state.clients.get(fields.get("client_id", ""))
    if client is None:
        return "The client_id is not known: no application is registered with it."
    redirect = fields.get("redirect_uri") or client.callback_url
    want, got = urlsplit(client.callback_url), urlsplit(redirect)
    if (got.scheme, got.netloc) != (want.scheme, want.netloc) or not got.path.startswith(want.path):
        return "The redirect_uri is not associated with this application."
    return ""


def _page(status: int, title: str, inner: str) -> WebReply:
    text = f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>{inner}</main></body></html>"
    return WebReply(status, text.encode())


def _authorize_page(standin: StandIn, fields: dict[str, str]) -> WebReply:
    problem = _client_problem(_state(standin), fields)
    if problem:
        return _page(404, "Application error", f"<p>{html.escape(problem)}</p>")
    hidden = "".join(
        f'<input type=hidden name="{html.escape(k)}" value="{html.escape(fields[k])}">'
        for k in ("client_id", "redirect_uri", "state", "scope")
        if k in fields
    )
    form = (
        f'<form method=post action="{AUTHORIZE_PATH}">{hidden}'
        "<label for=login>Username</label> <input id=login name=login autocomplete=username required> "
        "<button type=submit>Authorize</button></form>"
    )
    return _page(200, "Sign in to GitHub to continue", form)


def _authorize(standin: StandIn, fields: dict[str, str]) -> WebReply:
    state = _state(standin)
    problem = _client_problem(state, fields)
    if problem:
        return _page(404, "Application error", f"<p>{html.escape(problem)}</p>")
    login = fields.get("login", "")
    if login not in standin.users:
        return _page(401, "Incorrect username or password.", "")
    client = state.clients[fields["client_id"]]
    redirect = fields.get("redirect_uri") or client.callback_url
    code = secrets.token_hex(10)
    with state.lock:
        state.codes[code] = _Code(fields["client_id"], login, redirect, time.time() + CODE_SECONDS)
    answer = {"code": code, **({"state": fields["state"]} if "state" in fields else {})}
    separator = "&" if "?" in redirect else "?"
    return WebReply(302, b"", location=f"{redirect}{separator}{urlencode(answer)}")


def _exchange(standin: StandIn, fields: dict[str, str]) -> WebReply:
    state = _state(standin)
    client = state.clients.get(fields.get("client_id", ""))
    if client is None or not secrets.compare_digest(client.secret, fields.get("client_secret", "")):
        return _json(
            {
                "error": "incorrect_client_credentials",
                "error_description": "The client_id and/or client_secret passed are incorrect.",
            }
        )
    with state.lock:
        code = state.codes.pop(fields.get("code", ""), None)  # single use, whatever comes next
    bad = (
        code is None
        or code.client_id != fields["client_id"]
        or code.expires_at < time.time()
        or ("redirect_uri" in fields and fields["redirect_uri"] != code.redirect_uri)
    )
    if bad or code is None:
        return _json(
            {
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
            }
        )
    value = "gho_" + secrets.token_hex(18)
    with standin.lock:
        standin.tokens[value] = Token(value, code.login, expires_at=time.time() + 8 * 3600)
    return _json({"access_token": value, "token_type": "bearer", "scope": ""})


def _json(data: dict[str, str]) -> WebReply:
    if "error" in data:
        data = {**data, "error_uri": _DOCS}
    return WebReply(200, json.dumps(data).encode(), "application/json; charset=utf-8")
