"""`mlops-bot drift-report`: turn one scheduled check into GitHub effects, all idempotent.

One monitoring issue per model (found by the drift issue's marker, so an existing drift history carries
over) holding every trigger's finding, with the per-trigger hysteresis state in a hidden metadata block of its
body (the scheduled Action needs no bot); one comment per check, keyed by the check so that re-reporting it
edits rather than repeats; and, when drift, a performance drop or the schedule asks for it, one retrain PR from
`mlops-bot/retrain/<model>` whose YAML edit keeps every other byte of the file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core import drift, monitoring, replies
from bot.core.config import ModelSpec
from bot.core.markers import reply_marker
from bot.core.monitoring import CheckFacts, MonitorDecision
from bot.core.reports import actions_artifacts_url
from bot.core.yaml_edit import set_keys
from bot.jobs.common import JobEnv, JobSetupError, ci_url
from bot.jobs.drift_keep import ReportKeeper

ISSUE_LABELS = list(monitoring.BASE_LABELS)


@dataclass
class DriftOutcome:
    model: str
    verdict: str  # drift | no-drift | error | broken-data
    action: str = "none"  # the drift trigger's action (none | record | retrain | clear)
    issue: int | None = None
    retrain_pr: int | None = None
    check_run: int | None = None
    drifted_columns: list[str] | None = None
    fired: list[str] = field(default_factory=list)  # triggers whose finding counts after this check
    retrain: bool = False  # this check committed a retrain snapshot
    verdicts: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # per trigger: status, fired, streak, ...
    conclusion: str = ""  # of the check run
    report_url: str = ""  # the link posted for the check's report ("" when there was none to keep)


def retrain_branch(model: str) -> str:
    return f"mlops-bot/retrain/{model}"


def report(
    env: JobEnv,
    spec: ModelSpec,
    facts: CheckFacts | None,
    *,
    head_sha: str,
    error: str = "",
    reply_to: int | None = None,
    now: dt.datetime | None = None,
    keeper: ReportKeeper | None = None,
    log_path: Path | None = None,
) -> DriftOutcome:
    """`now` is the clock of a check that carries no time of its own (older summaries). `keeper` keeps the
    check's report and log (`log_path`) where a reader can open them; without one, the link is the Actions
    run's artifacts when this is one, else none."""
    if spec.drift is None:
        raise JobSetupError(f"model {spec.name} has no `drift:` section in the config")
    gh = env.gh
    check_name = f"mlops-bot / drift / {spec.name}"
    if facts is None:
        # Unreadable data is a failed check and an answer, never an issue: no verdict was reached.
        check = gh.upsert_check_run(
            head_sha,
            check_name,
            status="completed",
            conclusion="failure",
            title="Drift check failed",
            summary=replies.drift_failed(spec.name, error),
        )
        if reply_to is not None:
            marker = reply_marker("drift-failed", f"{spec.name}@{head_sha}")  # a retry edits, never repeats
            gh.upsert_comment(reply_to, marker, replies.drift_failed(spec.name, error))
        return DriftOutcome(spec.name, "error", check_run=check, conclusion="failure")

    marker = monitoring.issue_marker(spec.name)
    existing = gh.find_issue(marker)
    previous = drift.decode_metadata(existing.body) if existing else {}
    clock = monitoring.parse_time(facts.checked_at) or now or dt.datetime.now(dt.UTC)
    if not facts.checked_at:
        facts = _with_time(facts, clock)
    decision = monitoring.decide(facts, spec.drift, previous, now=clock)
    links = keeper.keep(facts, log_path) if keeper is not None else None
    report_url = links.url if links is not None else actions_artifacts_url(ci_url())

    retrain_pr = decision.retrain_pr if decision.retrain_active else None
    issue_number = existing.number if existing else None
    if existing is not None or decision.worth_an_issue:
        if decision.retrain:
            retrain_pr = _open_retrain_pr(env, spec, decision, issue_number, clock)
        title, body = monitoring.render_issue(decision, report_url=report_url, retrain_pr=retrain_pr)
        issue = gh.upsert_issue(
            marker, title, body, monitoring.issue_labels(decision), reopen=spec.drift.reopen == "reopen"
        )
        if decision.retrain and existing is None and retrain_pr is not None:
            # The PR body could not link an issue that did not exist yet: refresh it now that it does.
            retrain_pr = _open_retrain_pr(env, spec, decision, issue.number, clock)
        issue_number = issue.number
        comment = monitoring.render_comment(decision, report_url=report_url, retrain_pr=retrain_pr)
        gh.upsert_comment(issue.number, monitoring.check_comment_marker(decision), comment)
        all_clear = not decision.fired and not any(s.breaching for s in decision.states)
        if all_clear and existing is not None and spec.drift.close_when_clear:
            gh.close_issue(issue.number)

    outcome = _outcome(spec.name, decision, issue_number, retrain_pr)
    outcome.report_url = report_url
    if keeper is not None:
        keeper.record(facts, decision, issue=issue_number, retrain_pr=retrain_pr, report_url=report_url)
    outcome.check_run = gh.upsert_check_run(
        head_sha,
        check_name,
        status="completed",
        conclusion=decision.conclusion,
        title=monitoring.issue_title(decision),
        summary=monitoring.render_comment(decision, report_url=report_url, retrain_pr=retrain_pr),
    )
    if reply_to is not None and reply_to != outcome.issue:
        marker = reply_marker("drift", f"{spec.name}@{head_sha}")
        gh.upsert_comment(
            reply_to,
            marker,
            monitoring.render_reply(
                decision, marker=marker, issue=outcome.issue, retrain_pr=retrain_pr, report_url=report_url
            ),
        )
    return outcome


def _outcome(
    model: str, decision: MonitorDecision, issue: int | None, retrain_pr: int | None
) -> DriftOutcome:
    summary = decision.drift_summary
    if summary is None:
        verdict = "broken-data" if decision.quality.status == "schema-break" else "no-drift"
    else:
        verdict = "drift" if summary.dataset_drift else "no-drift"
    return DriftOutcome(
        model,
        verdict,
        action=decision.drift.action,
        issue=issue,
        retrain_pr=retrain_pr,
        drifted_columns=summary.drifted_columns if summary else [],
        fired=list(decision.fired),
        retrain=decision.retrain,
        verdicts=monitoring.verdicts(decision),
        conclusion=decision.conclusion,
    )


def _with_time(facts: CheckFacts, clock: dt.datetime) -> CheckFacts:
    from dataclasses import replace

    return replace(facts, checked_at=clock.isoformat(timespec="seconds"))


def _open_retrain_pr(
    env: JobEnv, spec: ModelSpec, decision: MonitorDecision, issue: int | None, clock: dt.datetime
) -> int:
    assert spec.drift is not None
    gh = env.gh
    base = gh.default_branch()
    branch = retrain_branch(spec.name)
    target = spec.drift.retrain.file
    text = gh.read_file(target, ref=base)
    if text is None:
        raise JobSetupError(f"the retrain file {target} does not exist on {base}; fix `drift.retrain.file`")
    # The check's own time names the snapshot, so reporting the same check again commits nothing new.
    stamp = clock.strftime("%Y-%m-%dT%H%M%SZ")
    values = {
        k: (v.format(date=stamp) if isinstance(v, str) else v) for k, v in spec.drift.retrain.set.items()
    }
    edited = set_keys(text, values)
    reasons = "; ".join(decision.retrain_reasons()) or "retrain"
    gh.commit_files(branch, base, {target: edited}, f"Retrain {spec.name}: {reasons}"[:500])
    title, body = monitoring.render_retrain_pr(decision, issue=issue, changes=values, file=target)
    return gh.upsert_pull(branch, base, title, body).number
