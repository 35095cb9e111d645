"""`GET /reports/<id>`: a report the bot kept (an Evidently page, a model card, a job's log), as the link in
a comment promised. An HTML report runs in a sandbox (CSP `sandbox`): its scripts draw its charts, but it gets
an opaque origin, so it can read no cookie of the bot's and call none of its pages as the reader. A model card
(Markdown, as posted on the PR) is shown as HTML in a sandbox that runs no script at all."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.adapters.store import Store, StoredReport

_ID = re.compile(r"^[0-9a-f]{32}$")
_HTML_POLICY = "sandbox allow-scripts; default-src 'self' 'unsafe-inline' data: blob:; frame-ancestors 'none'"
_CARD_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
_CARD_PAGE = (
    '<!doctype html><html lang="en"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
    "<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}}"
    "table{{border-collapse:collapse;display:block;overflow-x:auto}}td,th{{border:1px solid #ccc;padding:.2rem .5rem}}"
    "pre{{white-space:pre-wrap;overflow-wrap:anywhere}}</style><body>{body}</body></html>"
)

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
        if found.content_type.startswith("text/markdown"):
            headers["Content-Security-Policy"] = _CARD_POLICY
            headers["Content-Disposition"] = "inline"
            return HTMLResponse(_card_page(found), headers=headers)
        if found.content_type.startswith("text/html"):
            headers["Content-Security-Policy"] = _HTML_POLICY
        else:
            headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        return Response(found.body, media_type=found.content_type, headers=headers)

    return router


def _card_page(report: StoredReport) -> str:
    """A model card as a page: its Markdown rendered (markdown-it, when installed) or shown as text."""
    text = report.body.decode(errors="replace")
    try:
        from markdown_it import MarkdownIt

        body = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    except ImportError:  # a bare install: the Markdown as GitHub received it
        body = f"<pre>{html.escape(text)}</pre>"
    title = html.escape(f"{report.model} · model card · {report.repository}")
    return _CARD_PAGE.format(title=title, body=body)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "report"
