"""Page contexts: a model's facts turned into the rows, links and charts its templates show (no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from bot.core.monitoring.history import CheckRecord
from bot.core.monitoring.values import parse_time
from bot.core.reports import is_web_url
from bot.web.auth import PullStory
from bot.web.charts import Chart, line_chart
from bot.web.views import ModelDetail, ModelSummary, VersionRow

TIMELINE_ROWS = 100
CHECK_ROWS = 30
MAX_METRIC_CHARTS = 8


def _when(text: str) -> str:
    parsed = parse_time(text)
    return parsed.strftime("%Y-%m-%d %H:%M UTC") if parsed else ""


def _day(text: str) -> str:
    parsed = parse_time(text)
    return parsed.strftime("%m-%d") if parsed else text[:10]


def model_href(repository: str, model: str) -> str:
    return f"/repos/{repository}/models/{quote(model, safe='')}"


def summary_row(summary: ModelSummary) -> dict[str, Any]:
    check = summary.last_check
    return {
        "name": summary.model,
        "href": model_href(summary.repository, summary.model),
        "champion": f"v{summary.champion.version}" if summary.champion else "",
        "since": _when(summary.champion.promoted_at) if summary.champion else "",
        "versions": summary.versions,
        "checked": _when(check.checked_at) if check else "",
        "drift": f"{check.drift_share:.0%}" if check and check.drift_share is not None else "",
        "fired": ", ".join(check.fired) if check else "",
    }


def _version_row(v: VersionRow, web: str, repository: str, people: Mapping[str, PullStory]) -> dict[str, Any]:
    story = people.get(v.pr, PullStory())
    return {
        "merged_by": story.merged_by,
        "approvers": ", ".join(story.approvers),
        "gate": story.gate,
        "version": v.version,
        "champion": v.champion,
        "aliases": ", ".join(v.aliases),
        "promoted": _when(v.promoted_at) or _when(_iso(v.created_at)),
        "pr": v.pr,
        "pr_url": f"{web}/{repository}/pull/{v.pr}" if v.pr.isdigit() else "",
        "sha": v.git_sha[:8],
        "commit_url": f"{web}/{repository}/commit/{v.git_sha}" if v.git_sha else "",
        "deployment": v.deployment_id,
    }


def _iso(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat() if stamp else ""


def metric_charts(versions: tuple[VersionRow, ...]) -> list[Chart]:
    """One chart per metric the versions recorded, oldest version first, the champion marked."""
    oldest_first = list(reversed(versions))
    names: dict[str, None] = {}
    champion = next((v for v in versions if v.champion), None)
    for name in champion.metrics if champion else {}:
        names[name] = None
    for v in oldest_first:
        for name in v.metrics:
            names.setdefault(name, None)
    charts = []
    for n, name in enumerate(list(names)[:MAX_METRIC_CHARTS]):
        series = [(f"v{v.version}", v.metrics[name], v.champion) for v in oldest_first if name in v.metrics]
        chart = line_chart(f"metric-{n}", f"{name} by version", series, what=f"{name} by model version")
        if chart is not None:
            charts.append(chart)
    return charts


def monitoring_charts(checks: tuple[CheckRecord, ...]) -> list[Chart]:
    charts = []
    drift = [(_day(c.checked_at), c.drift_share, False) for c in checks if c.drift_share is not None]
    chart = line_chart(
        "drift", "Drift share per check", drift, what="Share of drifted columns per check", percent=True
    )
    if chart is not None:
        charts.append(chart)
    metrics: dict[str, None] = {}
    for c in checks:
        metrics.update(dict.fromkeys(c.performance))
    for n, name in enumerate(metrics):
        series = [(_day(c.checked_at), c.performance[name], False) for c in checks if name in c.performance]
        chart = line_chart(
            f"performance-{n}",
            f"{name} on labelled batches",
            series,
            what=f"The champion's {name} per labelled batch",
        )
        if chart is not None:
            charts.append(chart)
    return charts


def _check_row(c: CheckRecord) -> dict[str, Any]:
    quality = c.quality_status + (": " + "; ".join(c.quality_problems) if c.quality_problems else "")
    return {
        "at": _when(c.checked_at) or c.checked_at,
        "drift": f"{c.drift_share:.0%}" if c.drift_share is not None else "not judged",
        "columns": ", ".join(c.drifted_columns[:12]) + (" …" if len(c.drifted_columns) > 12 else ""),
        "quality": quality,
        "fired": ", ".join(c.fired),
        "report": c.report_url if is_web_url(c.report_url) else "",
    }


def deployment_rows(deployments: list[dict[str, Any]]) -> list[dict[str, str]]:
    """GitHub's Deployments of one model, newest first: each a promotion, or a rollback (it names the
    version it rolled back from)."""
    rows = []
    for d in deployments:
        payload = d.get("payload") or {}
        rolled_from = str(payload.get("rollback_from") or "")
        rows.append(
            {
                "at": _when(str(d.get("created_at") or "")),
                "kind": f"rollback from v{rolled_from}" if rolled_from else "promotion",
                "version": str(payload.get("version") or ""),
                "by": str((d.get("creator") or {}).get("login") or ""),
                "description": str(d.get("description") or ""),
                "environment": str(d.get("environment") or ""),
            }
        )
    return sorted(rows, key=lambda r: r["at"], reverse=True)


def model_context(
    detail: ModelDetail,
    *,
    web: str,
    people: Mapping[str, PullStory] | None = None,
    deployments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`people`: PR number -> who merged, who approved and the gate's verdict, for the versions GitHub was
    asked about;
    `deployments`: the model's GitHub Deployments (promotions and rollbacks)."""
    repo = detail.repository
    champion = detail.champion
    latest = detail.latest_check
    issue = latest.issue if latest else None
    retrain = latest.retrain_pr if latest else None
    return {
        "repository": repo,
        "model": detail.model,
        "champion": {
            "version": champion.version,
            "since": _when(champion.promoted_at),
            "pr": champion.pr,
            "pr_url": f"{web}/{repo}/pull/{champion.pr}" if champion.pr.isdigit() else "",
        }
        if champion
        else None,
        "issue": issue,
        "issue_url": f"{web}/{repo}/issues/{issue}" if issue else "",
        "retrain_pr": retrain,
        "retrain_url": f"{web}/{repo}/pull/{retrain}" if retrain else "",
        "report_url": latest.report_url if latest and is_web_url(latest.report_url) else "",
        "schedule": latest.schedule if latest else "",
        "mlflow_url": detail.mlflow_url,
        "deployments_url": f"{web}/{repo}/deployments",
        "versions": [_version_row(v, web, repo, people or {}) for v in detail.versions[:TIMELINE_ROWS]],
        "more_versions": max(0, len(detail.versions) - TIMELINE_ROWS),
        "deployments": deployment_rows(deployments or []),
        "metric_charts": metric_charts(detail.versions),
        "monitoring_charts": monitoring_charts(detail.checks),
        "checks": [_check_row(c) for c in reversed(detail.checks[-CHECK_ROWS:])],
    }
