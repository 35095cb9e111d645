"""`mlops-bot drift-report`: turn one drift check into GitHub effects, all idempotent.

One issue per model (found by its marker; the hysteresis history lives in a hidden metadata block in its
body, so the scheduled Action needs no bot), a comment per check, and on persistent drift one retrain PR
from `mlops-bot/retrain/<model>` whose YAML edit keeps every other byte of the file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.core import drift, replies
from bot.core.config import ModelSpec
from bot.core.markers import drift_marker, reply_marker
from bot.core.models import DriftSummary
from bot.core.yaml_edit import set_keys
from bot.jobs.common import JobEnv, JobSetupError, ci_url

ISSUE_LABELS = ["mlops-bot", "drift"]


@dataclass
class DriftOutcome:
    model: str
    verdict: str  # drift | no-drift | error
    action: str = "none"
    issue: int | None = None
    retrain_pr: int | None = None
    check_run: int | None = None
    drifted_columns: list[str] | None = None


def retrain_branch(model: str) -> str:
    return f"mlops-bot/retrain/{model}"


def report(
    env: JobEnv,
    spec: ModelSpec,
    summary: DriftSummary | None,
    *,
    head_sha: str,
    error: str = "",
    reply_to: int | None = None,
    now: dt.datetime | None = None,
) -> DriftOutcome:
    if spec.drift is None:
        raise JobSetupError(f"model {spec.name} has no `drift:` section in the config")
    gh = env.gh
    check_name = f"mlops-bot / drift / {spec.name}"
    if summary is None:
        # Bad data is a failed check and an answer, never an issue: drift on data we could not read is no drift.
        check = gh.upsert_check_run(
            head_sha,
            check_name,
            status="completed",
            conclusion="failure",
            title="Drift check failed",
            summary=replies.drift_failed(spec.name, error),
        )
        if reply_to is not None:
            gh.comment(reply_to, replies.drift_failed(spec.name, error))
        return DriftOutcome(spec.name, "error", check_run=check)

    existing = gh.find_issue(drift_marker(spec.name))
    previous = drift.decode_metadata(existing.body) if existing else {}
    checked_at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    decision = drift.decide(summary, previous, consecutive=spec.drift.consecutive, checked_at=checked_at)
    report_url = ci_url() or summary.report_path
    outcome = DriftOutcome(
        spec.name,
        "drift" if decision.breach else "no-drift",
        action=decision.action,
        drifted_columns=summary.drifted_columns,
    )

    retrain_pr = None
    if existing is not None or decision.breach:
        if decision.action == "retrain":
            retrain_pr = _open_retrain_pr(env, spec, summary, existing.number if existing else None, now=now)
        title, body = drift.render_drift_issue(
            spec.name, summary, decision, report_url=report_url, retrain_pr=retrain_pr
        )
        issue = gh.upsert_issue(
            drift_marker(spec.name), title, body, ISSUE_LABELS, reopen=spec.drift.reopen == "reopen"
        )
        outcome.issue = issue.number
        if retrain_pr is not None and existing is None:
            # The PR body could not link an issue that did not exist yet: refresh it now that it does.
            retrain_pr = _open_retrain_pr(env, spec, summary, issue.number, now=now)
        gh.comment(
            issue.number,
            drift.render_drift_comment(
                spec.name, summary, decision, report_url=report_url, retrain_pr=retrain_pr
            ),
        )
        if decision.action == "clear" and spec.drift.close_when_clear:
            gh.close_issue(issue.number)
    outcome.retrain_pr = retrain_pr
    conclusion = "failure" if decision.persistent else ("neutral" if decision.breach else "success")
    outcome.check_run = gh.upsert_check_run(
        head_sha,
        check_name,
        status="completed",
        conclusion=conclusion,
        title=f"{len(summary.drifted_columns)} drifted column(s)" if decision.breach else "No drift",
        summary=drift.render_drift_comment(
            spec.name, summary, decision, report_url=report_url, retrain_pr=retrain_pr
        ),
    )
    if reply_to is not None and reply_to != outcome.issue:
        gh.upsert_comment(
            reply_to,
            reply_marker("drift", f"{spec.name}@{head_sha}"),
            replies.drift_verdict(spec.name, summary, decision, issue=outcome.issue, retrain_pr=retrain_pr),
        )
    return outcome


def _open_retrain_pr(
    env: JobEnv, spec: ModelSpec, summary: DriftSummary, issue: int | None, *, now: dt.datetime | None
) -> int:
    assert spec.drift is not None
    gh = env.gh
    base = gh.default_branch()
    branch = retrain_branch(spec.name)
    target = spec.drift.retrain.file
    text = gh.read_file(target, ref=base)
    if text is None:
        raise JobSetupError(f"the retrain file {target} does not exist on {base}; fix `drift.retrain.file`")
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H%M%SZ")
    values = {
        k: (v.format(date=stamp) if isinstance(v, str) else v) for k, v in spec.drift.retrain.set.items()
    }
    edited = set_keys(text, values)
    gh.commit_files(
        branch, base, {target: edited}, f"Retrain {spec.name}: drift in {', '.join(summary.drifted_columns)}"
    )
    title, body = drift.render_retrain_pr(spec.name, summary, issue=issue, changes=values, file=target)
    return gh.upsert_pull(branch, base, title, body).number
