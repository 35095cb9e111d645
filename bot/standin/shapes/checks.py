"""Check runs and commit statuses."""

from __future__ import annotations

from typing import Any

from bot.standin.model import CheckRun, Status, User
from bot.standin.shapes.common import Urls, node_id, user


def check_run(
    urls: Urls, full_name: str, run: CheckRun, app_json: dict[str, Any] | None, pulls: list[dict[str, Any]]
) -> dict[str, Any]:
    api = f"{urls.repo(full_name)}/check-runs/{run.id}"
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CheckRun", run.id),
        "external_id": run.external_id or "",
        "url": api,
        "html_url": f"{urls.html}/{full_name}/runs/{run.id}",
        "details_url": run.details_url or f"{urls.html}/{full_name}/runs/{run.id}",
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "output": {
            "title": run.output.get("title"),
            "summary": run.output.get("summary"),
            "text": run.output.get("text"),
            "annotations_count": len(run.output.get("annotations", [])),
            "annotations_url": f"{api}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.id + 500_000},
        "app": app_json,
        "pull_requests": pulls,
    }


def status(urls: Urls, full_name: str, st: Status, users: dict[str, User]) -> dict[str, Any]:
    creator = user(urls, users[st.creator])
    return {
        "url": f"{urls.repo(full_name)}/statuses/{st.sha}",
        "avatar_url": creator["avatar_url"],
        "id": st.id,
        "node_id": node_id("StatusContext", st.id),
        "state": st.state,
        "description": st.description,
        "target_url": st.target_url,
        "context": st.context,
        "created_at": st.created_at,
        "updated_at": st.created_at,
        "creator": creator,
    }
