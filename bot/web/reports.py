"""`GET /reports/<id>`: a report the bot kept (an Evidently page, a check's log), as the link in a comment
promised. An HTML report runs in a sandbox (CSP `sandbox`): its scripts draw its charts, but it gets an
opaque origin, so it can read no cookie of the bot's and call none of its pages as the reader."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.adapters.store import Store, StoredReport

_ID = re.compile(r"^[0-9a-f]{32}$")
_HTML_POLICY = "sandbox allow-scripts; default-src 'self' 'unsafe-inline' data: blob:; frame-ancestors 'none'"

# Who may read a report: None (go ahead) or the answer to give instead (sign in, or 404).
Gate = Callable[[Request, StoredReport], Response | None]


def reports_router(store: Store, gate: Gate | None = None) -> APIRouter:
    router = APIRouter()

    @router.get("/reports/{report_id}", include_in_schema=False)
    async def report(request: Request, report_id: str) -> Response:
        found = await run_in_threadpool(store.report, report_id) if _ID.match(report_id) else None
        if found is None:
            return PlainTextResponse("no such report", status_code=404)
        if gate is not None and (refused := await run_in_threadpool(gate, request, found)) is not None:
            return refused
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=300",
            "Content-Disposition": f'inline; filename="{_safe_name(found.name)}"',
        }
        if found.content_type.startswith("text/html"):
            headers["Content-Security-Policy"] = _HTML_POLICY
        else:
            headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        return Response(found.body, media_type=found.content_type, headers=headers)

    return router


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "report"
