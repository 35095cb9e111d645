"""Who is looking at the dashboard: sign-in with GitHub (the App's OAuth web flow), a signed session
cookie, and each repository's permission for the signed-in user, asked of GitHub and cached briefly.

`/login` sends the browser to GitHub's authorize page with a fresh `state` (kept in a signed, short-lived
cookie); `/login/callback` checks that `state`, trades the code for the user's token, asks GitHub who the user
is, and starts a session. The session cookie carries only a signed random id (HttpOnly, SameSite=Lax, Secure
over https); the session itself is in the bot's store (`bot/web/sessions.py`: the id hashed, the user's token
sealed), so every replica shares it, and the token never appears in a URL or a log line. Signing out is a
POST carrying the session's CSRF token, and ends the session for every replica.
See https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.settings import Settings
from bot.web.sessions import SESSION_SECONDS, Session, Sessions

if TYPE_CHECKING:
    from bot.adapters.store import Store

log = logging.getLogger(__name__)

SESSION_COOKIE = "mlops_bot_session"
STATE_COOKIE = "mlops_bot_oauth_state"
STATE_SECONDS = 600
PERMISSION_SECONDS = 60.0  # how long GitHub's answer about a user's access to a repository is trusted
PULL_SECONDS = 600.0  # who merged and approved a pull request changes rarely once it is merged

Permission = Literal["none", "read", "write", "admin"]
_RANK: dict[Permission, int] = {"none": 0, "read": 1, "write": 2, "admin": 3}


def at_least(have: Permission, need: Permission) -> bool:
    return _RANK[have] >= _RANK[need]


def github_web_url(settings: Settings) -> str:
    """GitHub's web host: github.com for api.github.com, the host itself for GitHub Enterprise
    (`https://host/api/v3`), unless set."""
    if settings.github_web_url:
        return settings.github_web_url.rstrip("/")
    api = settings.github_base_url.rstrip("/")
    if api == "https://api.github.com":
        return "https://github.com"
    return api.removesuffix("/api/v3")


class Signer:
    """HMAC-SHA256 over `value|issued-at`: a cookie the browser can hold but not forge or keep forever."""

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = hashlib.sha256(b"mlops-bot-dashboard\n" + secret).digest()
        self._clock = clock

    def sign(self, value: str) -> str:
        body = f"{value}|{int(self._clock())}"
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=") + "." + _b64(mac)

    def unsign(self, text: str, max_age: float) -> str | None:
        encoded, _, mac = text.partition(".")
        try:
            body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, mac):
            return None
        value, _, issued = body.rpartition("|")
        if not issued.isdigit() or self._clock() - int(issued) > max_age:
            return None
        return value


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class PullStory:
    """What GitHub tells about the pull request a version came from."""

    merged_by: str = ""
    approvers: tuple[str, ...] = ()
    gate: str = ""  # the card check run's conclusion and title on the PR's head


class GitHubUsers:
    """What GitHub says about a signed-in user: who they are, and their permission on a repository (their
    own token asks `GET /repos/{repo}`; a repository they cannot see is "none")."""

    def __init__(self, api_url: str, *, clock: Callable[[], float] = time.time) -> None:
        self._api = api_url.rstrip("/")
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Permission]] = {}
        self._pulls: dict[tuple[str, str], tuple[float, PullStory]] = {}
        self._lists: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=10.0, headers={"Accept": "application/vnd.github+json"})

    def login(self, token: str) -> str:
        answer = self._http.get(f"{self._api}/user", headers={"Authorization": f"Bearer {token}"})
        answer.raise_for_status()
        return str(answer.json()["login"])

    def permission(self, session: Session, repository: str) -> Permission:
        key = (session.id, repository.lower())
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < PERMISSION_SECONDS:
            return cached[1]
        found = self._ask(session.token, repository)
        with self._lock:
            self._cache[key] = (now, found)
        return found

    def _ask(self, token: str, repository: str) -> Permission:
        answer = self._http.get(
            f"{self._api}/repos/{repository}", headers={"Authorization": f"Bearer {token}"}
        )
        if answer.status_code in (401, 403, 404):
            return "none"
        answer.raise_for_status()
        rights = answer.json().get("permissions") or {}
        if rights.get("admin"):
            return "admin"
        if rights.get("push") or rights.get("maintain"):
            return "write"
        return "read" if rights.get("pull") else "none"

    def pull_story(self, session: Session, repository: str, number: str, model: str) -> PullStory:
        """Who merged pull request `number`, who approved it, and the gate's verdict on its head (the model's
        card check run: `mlops-bot / <model>`), asked with the reader's token (the caller checked they may
        read the repository) and kept PULL_SECONDS; empty when GitHub does not say."""
        key = (repository.lower(), f"{number}/{model}")
        now = self._clock()
        with self._lock:
            cached = self._pulls.get(key)
        if cached is not None and now - cached[0] < PULL_SECONDS:
            return cached[1]
        headers = {"Authorization": f"Bearer {session.token}"}
        base = f"{self._api}/repos/{repository}"
        pull = self._http.get(f"{base}/pulls/{number}", headers=headers)
        reviews = self._http.get(f"{base}/pulls/{number}/reviews", headers=headers, params={"per_page": 100})
        if pull.status_code != 200 or reviews.status_code != 200:
            return PullStory()
        head = str((pull.json().get("head") or {}).get("sha") or "")
        checks = self._http.get(
            f"{base}/commits/{head}/check-runs",
            headers=headers,
            params={"check_name": f"mlops-bot / {model}"},
        )
        runs = checks.json().get("check_runs", []) if checks.status_code == 200 and head else []
        gate = ""
        if runs:
            run = runs[0]
            title = (run.get("output") or {}).get("title") or ""
            gate = f"{run.get('conclusion') or run.get('status')}" + (f": {title}" if title else "")
        story = PullStory(
            merged_by=str((pull.json().get("merged_by") or {}).get("login") or ""),
            approvers=tuple(
                dict.fromkeys(
                    r["user"]["login"]
                    for r in reviews.json()
                    if r.get("state") == "APPROVED" and r.get("user")
                )
            ),
            gate=gate,
        )
        with self._lock:
            self._pulls[key] = (now, story)
        return story

    def deployments(self, session: Session, repository: str) -> list[dict[str, Any]]:
        """The repository's newest 100 Deployments (the promotions and rollbacks the bot recorded), asked
        with the reader's token and kept PERMISSION_SECONDS; [] when GitHub does not answer."""
        key = (repository.lower(), "deployments")
        now = self._clock()
        with self._lock:
            cached = self._lists.get(key)
        if cached is not None and now - cached[0] < PERMISSION_SECONDS:
            return cached[1]
        answer = self._http.get(
            f"{self._api}/repos/{repository}/deployments",
            headers={"Authorization": f"Bearer {session.token}"},
            params={"per_page": 100},
        )
        found = [d for d in answer.json() if isinstance(d, dict)] if answer.status_code == 200 else []
        with self._lock:
            self._lists[key] = (now, found)
        return found

    def close(self) -> None:
        self._http.close()


@dataclass
class Auth:
    settings: Settings
    sessions: Sessions
    users: GitHubUsers
    signer: Signer

    @classmethod
    def build(cls, settings: Settings, store: Store) -> Auth:
        secret = settings.session_secret.get_secret_value().encode() or secrets.token_bytes(32)
        return cls(settings, Sessions(store, secret), GitHubUsers(settings.github_base_url), Signer(secret))

    @property
    def secure_cookies(self) -> bool:
        return self.settings.public_url.startswith("https://")

    def session(self, request: Request) -> Session | None:
        raw = request.cookies.get(SESSION_COOKIE, "")
        session_id = self.signer.unsign(raw, SESSION_SECONDS) if raw else None
        return self.sessions.get(session_id) if session_id else None

    def callback_url(self, request: Request) -> str:
        base = self.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
        return f"{base}/login/callback"

    def set_cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            self.signer.sign(value),
            max_age=max_age,
            httponly=True,
            samesite="lax",
            secure=self.secure_cookies,
            path="/",
        )


def _local_path(target: str) -> str:
    """Where to go after signing in: a path of this site only (never `//host` or a URL)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def auth_router(auth: Auth) -> APIRouter:
    router = APIRouter()

    @router.get("/login", include_in_schema=False)
    def login(request: Request, next: str = "/") -> Response:
        if not auth.settings.oauth_client_id:
            return PlainTextResponse(
                "sign-in is not configured: set MLOPS_BOT_OAUTH_CLIENT_ID and MLOPS_BOT_OAUTH_CLIENT_SECRET "
                "(the GitHub App's client id and secret)",
                status_code=503,
            )
        state = secrets.token_urlsafe(24)
        query = urlencode(
            {
                "client_id": auth.settings.oauth_client_id,
                "redirect_uri": auth.callback_url(request),
                "state": state,
            }
        )
        response = RedirectResponse(f"{github_web_url(auth.settings)}/login/oauth/authorize?{query}", 303)
        auth.set_cookie(response, STATE_COOKIE, f"{state}|{_local_path(next)}", STATE_SECONDS)
        return response

    @router.get("/login/callback", include_in_schema=False)
    def callback(request: Request, code: str = "", state: str = "") -> Response:
        kept = auth.signer.unsign(request.cookies.get(STATE_COOKIE, ""), STATE_SECONDS) or ""
        expected, _, after = kept.partition("|")
        if not (code and state and expected and hmac.compare_digest(expected, state)):
            return PlainTextResponse(
                "sign-in failed: the state does not match; sign in again", status_code=400
            )
        token = _exchange(auth, request, code)
        if token is None:
            return PlainTextResponse(
                "sign-in failed: GitHub refused the code; sign in again", status_code=400
            )
        session = auth.sessions.start(auth.users.login(token), token)
        log.info("%s signed in to the dashboard", session.login)
        response = RedirectResponse(_local_path(after), 303)
        auth.set_cookie(response, SESSION_COOKIE, session.id, SESSION_SECONDS)
        response.delete_cookie(STATE_COOKIE, path="/")
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = parse_qs((await request.body())[:4096].decode(errors="replace"))
        csrf = (form.get("csrf") or [""])[0]
        session = await run_in_threadpool(auth.session, request)  # a store read: off the event loop
        if session is None or not hmac.compare_digest(session.csrf, csrf):
            return PlainTextResponse(
                "refused: the form's CSRF token does not match your session", status_code=403
            )
        await run_in_threadpool(auth.sessions.end, session.id)
        response = RedirectResponse("/login/signed-out", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/login/signed-out", include_in_schema=False)
    def signed_out() -> Response:
        return PlainTextResponse("signed out of the mlops-bot dashboard")

    return router


def _exchange(auth: Auth, request: Request, code: str) -> str | None:
    answer = httpx.post(
        f"{github_web_url(auth.settings)}/login/oauth/access_token",
        data={
            "client_id": auth.settings.oauth_client_id,
            "client_secret": auth.settings.oauth_client_secret.get_secret_value(),
            "code": code,
            "redirect_uri": auth.callback_url(request),
        },
        headers={"Accept": "application/json"},
        timeout=10.0,
    )
    if answer.status_code != 200:
        return None
    token = answer.json().get("access_token")
    return token if isinstance(token, str) and token else None
