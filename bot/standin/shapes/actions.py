"""Workflows and workflow runs."""

from __future__ import annotations

from typing import Any

from bot.standin.model import WorkflowRun
from bot.standin.shapes.common import Urls, node_id


def workflow(
    urls: Urls, full_name: str, workflow_id: int, path: str, name: str, created_at: str
) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "node_id": node_id("Workflow", workflow_id),
        "name": name,
        "path": path,
        "state": "active",
        "created_at": created_at,
        "updated_at": created_at,
        "url": f"{urls.repo(full_name)}/actions/workflows/{workflow_id}",
        "html_url": f"{urls.html}/{full_name}/blob/HEAD/{path}",
        "badge_url": f"{urls.html}/{full_name}/workflows/{name}/badge.svg",
    }


def workflow_run(
    urls: Urls, full_name: str, run: WorkflowRun, *, repository: dict[str, Any], actor: dict[str, Any],
    head_commit: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    api = f"{urls.repo(full_name)}/actions/runs/{run.id}"
    return {
        "id": run.id,
        "name": run.workflow_name,
        "node_id": node_id("WorkflowRun", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": run.path,
        "display_title": run.display_title,
        "run_number": run.run_number,
        "run_attempt": 1,
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "workflow_id": run.workflow_id,
        "check_suite_id": run.id + 1,
        "check_suite_node_id": node_id("CheckSuite", run.id + 1),
        "url": api,
        "html_url": f"{urls.html}/{full_name}/actions/runs/{run.id}",
        "pull_requests": [],
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "run_started_at": run.created_at,
        "actor": actor,
        "triggering_actor": actor,
        "jobs_url": f"{api}/jobs",
        "logs_url": f"{api}/logs",
        "check_suite_url": f"{urls.repo(full_name)}/check-suites/{run.id + 1}",
        "artifacts_url": f"{api}/artifacts",
        "cancel_url": f"{api}/cancel",
        "rerun_url": f"{api}/rerun",
        "previous_attempt_url": None,
        "workflow_url": f"{urls.repo(full_name)}/actions/workflows/{run.workflow_id}",
        "head_commit": head_commit,
        "repository": repository,
        "head_repository": repository,
    }
