"""Follow the workflow runs the bot dispatched (`executor: actions`) and report how each ended.

A dispatch answers 204 with no run id, so the run is recognised when its `workflow_run.completed` event
arrives: one of the bot's workflow files, started by `workflow_dispatch`, titled by the workflow's
`run-name` (`mlops-bot <job> ... #<number>`), which names the pull request or issue to answer on.
One reply per run, keyed by the run id, so a redelivered event edits nothing.
https://docs.github.com/webhooks/webhook-events-and-payloads#workflow_run
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bot.core.events import Delivery
from bot.core.markdown import code, escape_md
from bot.core.markers import reply_marker
from bot.handlers.context import Context
from bot.jobs.plans import WORKFLOWS

log = logging.getLogger(__name__)

WORKFLOW_FILES = frozenset(workflow for workflow, _ in WORKFLOWS.values())
# `run-name` of templates/workflows/*.yml: the job, then (after the model, if any) `#<number>`.
_TITLE = re.compile(r"^mlops-bot (?P<job>[a-z][a-z-]*)\b[^#\n]*#(?P<number>\d+)\s*$")
# How a reader asks for the job again; the key is the job word of the run-name.
RETRY = {
    "train": "/train",
    "card": "/card",
    "plan": "/promote --dry-run",
    "promote": "/promote",
    "drift": "/drift",
}
_CONCLUSIONS = {
    "success": "✅ succeeded",
    "failure": "❌ failed",
    "cancelled": "⏹️ was cancelled",
    "timed_out": "⌛ timed out",
    "skipped": "➖ was skipped",
    "neutral": "➖ ended neutral",
    "action_required": "⚠️ needs an approval to run",
    "stale": "➖ went stale",
}
_GOOD = frozenset({"success", "skipped", "neutral"})


@dataclass(frozen=True)
class RunOutcome:
    """What the bot reports about one finished run of its own workflow."""

    run_id: int
    job: str
    number: int
    conclusion: str
    html_url: str
    workflow: str


def run_outcome(payload: dict[str, Any]) -> RunOutcome | None:
    """The outcome to report; None for runs that are not the bot's dispatched jobs, or name no PR/issue."""
    run = payload.get("workflow_run")
    if not isinstance(run, dict) or run.get("event") != "workflow_dispatch":
        return None  # pull_request and push runs report themselves through the card and check run
    path = str(run.get("path") or "")
    workflow = path.rsplit("/", 1)[-1]
    if not path.startswith(".github/workflows/") or workflow not in WORKFLOW_FILES:
        return None
    match = _TITLE.match(str(run.get("display_title") or ""))
    if match is None:
        return None  # dispatched by hand without a PR/issue: nobody to tell
    return RunOutcome(
        run_id=int(run["id"]),
        job=match["job"],
        number=int(match["number"]),
        conclusion=str(run.get("conclusion") or "unknown"),
        html_url=str(run.get("html_url") or ""),
        workflow=workflow,
    )


def outcome_marker(run_id: int) -> str:
    return reply_marker("workflow-run", str(run_id))


def outcome_reply(outcome: RunOutcome) -> str:
    """The reply on the PR/issue: which job, how it ended, the link, and how to try again if it failed."""
    verdict = _CONCLUSIONS.get(outcome.conclusion, f"ended: {escape_md(outcome.conclusion, max_len=40)}")
    link = (
        f"[run {outcome.run_id}]({outcome.html_url})"
        if outcome.html_url.startswith(("https://", "http://"))
        else f"run {outcome.run_id}"
    )
    lines = [
        outcome_marker(outcome.run_id),
        f"The {code(outcome.job)} job ({code(outcome.workflow)}, {link}) {verdict}.",
    ]
    if outcome.conclusion not in _GOOD:
        retry = RETRY.get(outcome.job)
        hint = f"comment {code(retry)} to run it again" if retry else "re-run it from the Actions tab"
        lines += ["", f"The run's log says what went wrong; once it is fixed, {hint}."]
    return "\n".join(lines) + "\n"


def on_completed(ctx: Context, delivery: Delivery) -> None:
    outcome = run_outcome(delivery.payload)
    if outcome is None:
        return
    gh = ctx.repo(delivery)
    gh.upsert_comment(outcome.number, outcome_marker(outcome.run_id), outcome_reply(outcome))
    log.info("reported run %s (%s) on #%s", outcome.run_id, outcome.conclusion, outcome.number)


ROUTES: dict[str, Any] = {"workflow_run.completed": on_completed}
