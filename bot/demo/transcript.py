"""What the reader gets: the repository's conversations as a reader would see them on GitHub."""

from __future__ import annotations

import json
from typing import Any


def render_transcript(standin: Any, repo: str) -> str:
    """Every pull request and issue as a reader would see its conversation on GitHub."""
    lines = [f"# {repo}: what happened on GitHub", ""]
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
