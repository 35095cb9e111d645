"""The dashboard's pages: repositories -> models -> one model (champion, timeline, charts), and the queue's
health for admins. Default deny: a signed-out reader is sent to sign in; a repository the signed-in user
cannot read answers 404, exactly like one that does not exist.

Every page carries a CSP without inline scripts (there is no script at all: charts are SVG drawn on the
server), `X-Frame-Options: DENY` and `nosniff`; its one stylesheet ships in the package."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.adapters.store import Store, StoredReport
from bot.core.monitoring.history import CheckRecord
from bot.resources import template_path
from bot.web.auth import Auth, Permission, at_least, github_web_url
from bot.web.context import model_context, model_href, summary_row
from bot.web.sessions import Session
from bot.web.source import DashboardSource

Latest = Mapping[tuple[str, str], CheckRecord]
PEOPLE_ROWS = 10  # the newest versions whose merger and approvers the timeline asks GitHub for

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_path())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _page(name: str, context: dict[str, Any], status: int = 200) -> Response:
    html = _templates().get_template(f"dashboard/{name}").render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _not_found() -> Response:
    return HTMLResponse(
        "<!doctype html><title>Not Found</title><h1>Not Found</h1>", 404, headers=SECURITY_HEADERS
    )


def _sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", 303, headers=SECURITY_HEADERS)


class Dashboard:
    def __init__(self, auth: Auth, source: DashboardSource, store: Store) -> None:
        self.auth = auth
        self.source = source
        self.store = store
        self.web = github_web_url(auth.settings)

    def permission(self, session: Session, repository: str) -> Permission:
        return self.auth.users.permission(session, repository)

    def visible(
        self, session: Session, need: Permission = "read", latest: Latest | None = None
    ) -> dict[str, list[str]]:
        return {
            repo: models
            for repo, models in self.source.repositories(latest).items()
            if at_least(self.permission(session, repo), need)
        }

    def base(self, session: Session, title: str, crumbs: list[dict[str, str]]) -> dict[str, Any]:
        return {"title": title, "crumbs": crumbs, "login": session.login, "csrf": session.csrf}

    def repo_entry(self, repo: str, models: list[str], latest: Latest) -> dict[str, Any]:
        rows = [summary_row(s) for s in self.source.summaries(repo, models, latest)]
        return {"name": repo, "href": f"/repos/{repo}", "github": f"{self.web}/{repo}", "models": rows}

    def index(self, session: Session) -> Response:
        latest = self.store.latest_checks()  # one read for the whole page
        visible = self.visible(session, latest=latest)
        admin = any(at_least(self.permission(session, r), "admin") for r in visible)
        context = {
            **self.base(session, "Models", [{"href": "/", "text": "Models"}]),
            "repositories": [self.repo_entry(r, m, latest) for r, m in visible.items()],
            "admin": admin,
        }
        return _page("index.html.j2", context)

    def repository(self, session: Session, repo: str) -> Response:
        latest = self.store.latest_checks()
        models = self.source.repositories(latest).get(repo)
        if models is None or not at_least(self.permission(session, repo), "read"):
            return _not_found()
        crumbs = [{"href": "/", "text": "Models"}, {"href": f"/repos/{repo}", "text": repo}]
        return _page(
            "repo.html.j2",
            {**self.base(session, repo, crumbs), "repo": self.repo_entry(repo, models, latest)},
        )

    def model(self, session: Session, repo: str, model: str) -> Response:
        models = self.source.repositories().get(repo)
        if models is None or model not in models or not at_least(self.permission(session, repo), "read"):
            return _not_found()
        crumbs = [
            {"href": "/", "text": "Models"},
            {"href": f"/repos/{repo}", "text": repo},
            {"href": model_href(repo, model), "text": model},
        ]
        detail = self.source.detail(repo, model)
        people = {
            v.pr: self.auth.users.pull_story(session, repo, v.pr, model)
            for v in detail.versions[:PEOPLE_ROWS]
            if v.pr.isdigit()
        }
        deployments = [
            d
            for d in self.auth.users.deployments(session, repo)
            if isinstance(d.get("payload"), dict) and d["payload"].get("model") == model
        ]
        context = model_context(detail, web=self.web, people=people, deployments=deployments)
        return _page("model.html.j2", {**self.base(session, f"{model} · {repo}", crumbs), **context})

    def queue(self, session: Session) -> Response:
        admin_of = set(self.visible(session, "admin"))
        if not admin_of:
            return _not_found()
        counts = self.store.status_counts()
        context = {
            **self.base(
                session,
                "Queue health",
                [{"href": "/", "text": "Models"}, {"href": "/queue", "text": "Queue"}],
            ),
            "statuses": [(s, counts.get(s, 0)) for s in ("queued", "running", "done", "failed")],
            "workers": self.store.live_processes("worker"),
            "failed": [f for f in self.store.failed_deliveries() if f.repository in admin_of],
        }
        return _page("queue.html.j2", context)

    def report_gate(self, request: Request, report: StoredReport) -> Response | None:
        """A report is the repository's: shown to its readers only, like the pages."""
        session = self.auth.session(request)
        if session is None:
            return _sign_in(request)
        if not at_least(self.permission(session, report.repository), "read"):
            return _not_found()
        return None


def dashboard_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter()
    auth = dashboard.auth

    async def signed_in(request: Request, render: Any, *args: str) -> Response:
        session = await run_in_threadpool(auth.session, request)  # a store read: off the event loop
        if session is None:
            return _sign_in(request)
        return await run_in_threadpool(render, session, *args)  # type: ignore[no-any-return]

    @router.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        return await signed_in(request, dashboard.index)

    @router.get("/repos/{owner}/{name}", include_in_schema=False)
    async def repository(request: Request, owner: str, name: str) -> Response:
        return await signed_in(request, dashboard.repository, f"{owner}/{name}")

    @router.get("/repos/{owner}/{name}/models/{model}", include_in_schema=False)
    async def model(request: Request, owner: str, name: str, model: str) -> Response:
        return await signed_in(request, dashboard.model, f"{owner}/{name}", model)

    @router.get("/queue", include_in_schema=False)
    async def queue(request: Request) -> Response:
        return await signed_in(request, dashboard.queue)

    @router.get("/static/dashboard.css", include_in_schema=False)
    def stylesheet() -> Response:
        css = template_path("dashboard", "dashboard.css").read_bytes()
        return Response(
            css, media_type="text/css", headers={**SECURITY_HEADERS, "Cache-Control": "max-age=3600"}
        )

    return router
