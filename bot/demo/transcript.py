"""What the reader gets: the repository's conversations as a reader would see them on GitHub."""

from __future__ import annotations

import json
from typing import Any


def render_transcript(standin: Any, repo: str, summary: dict[str, Any] | None = None) -> str:
    """Every pull request and issue as a reader would see its conversation on GitHub, after what the demo's
    clients sent the served model and what each scheduled check read of it."""
    lines = [f"# {repo}: what happened on GitHub", ""]
    lines += _traffic(summary or {})
    threads = sorted(standin.repo(repo).issues.values(), key=lambda i: i.number)
    for issue in threads:
        kind = "Pull request" if issue.is_pull else "Issue"
        lines += [
            f"## {kind} #{issue.number}: {issue.title} ({issue.state})",
            "",
            f"*opened by @{issue.user}*",
            "",
            _quote(issue.body or ""),
            "",
        ]
        for comment in standin.comments(repo, issue.number):
            lines += [f"### @{comment.user} commented", "", comment.body, ""]
        if issue.is_pull:
            pull = standin.pull(repo, issue.number)
            for run in standin.check_runs(repo, pull.head_sha):
                lines.append(
                    f"- Check run **{run.name}** on `{pull.head_sha[:7]}`: {run.conclusion or run.status}"
                )
            lines.append("")
    deployments = sorted(standin.deployments(repo), key=lambda d: d.id)
    if deployments:
        lines += ["## Deployments", ""]
        for d in deployments:
            states = " -> ".join(s.state for s in d.statuses)
            lines.append(
                f"- #{d.id} to `{d.environment}` at `{d.sha[:7]}`: {json.dumps(d.payload)} ({states})"
            )
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines()) or "> (no description)"


def _traffic(summary: dict[str, Any]) -> list[str]:
    """The served model's side: each window of traffic, the labels sent back, and what the next check read."""
    windows = (summary.get("traffic") or {}).get("windows") or []
    if not windows:
        return []
    checks = {c["window"]: c for c in _checks(summary)}
    lines = [
        "## Production: the traffic the demo's clients sent the served champion",
        "",
        "Each window went to the champion's bento over HTTP; the service logged every answered row, and the",
        "scheduled check after the window read that log (`drift.current: served`). No production file was written.",
        "",
        "| Window | Answered by | Requests | Rows | Moved rows | Labels sent back | Check read | Drift share "
        "| Labels joined / late / unknown ids | Performance |",
        "|---|---|--:|--:|---|---|--:|--:|---|---|",
    ]
    for w in windows:
        labels = w.get("labels") or {}
        sent = f"{labels['sent']} ({labels['wrong']} contradicting)" if labels.get("sent") else "–"
        if labels.get("unknown_ids"):
            sent += f" + {labels['unknown_ids']} unknown ids"
        if labels.get("late"):
            sent += ", after its check"
        check = checks.get(w["name"], {})
        share = check.get("drift_share")
        counts = check.get("labels") or {}
        scores = ", ".join(f"{k} {v:.3f}" for k, v in (check.get("performance") or {}).items())
        lines.append(
            f"| {w['name']} | v{w['served_by']} | {w['requests']} | {w['rows']} | "
            f"{w['moved_rows']} ({w['moved']}) | {sent} | {check.get('rows_read', '–')} | "
            f"{f'{share:.0%}' if share is not None else '–'} | "
            f"{counts.get('joined') or 0} / {counts.get('late', 0)} / {counts.get('unknown', 0)} | "
            f"{(check.get('statuses') or {}).get('performance', '–')}{f' ({scores})' if scores else ''} |"
        )
    return [*lines, ""]


def _checks(summary: dict[str, Any]) -> list[dict[str, Any]]:
    checks = list((summary.get("drift") or {}).get("checks") or [])
    checks += (summary.get("monitoring") or {}).get("performance") or []
    retrain = (summary.get("retrain") or {}).get("check")
    return [*checks, retrain] if retrain else checks
