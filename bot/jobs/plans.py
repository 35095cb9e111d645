"""Where and how each of the bot's own jobs runs: the CLI steps of a job request in the local executor, or
the workflow (and its declared inputs) it dispatches with `executor: actions`.

The steps are the same commands the reusable actions run on a runner, so a job behaves the same in both.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import NamedTuple

from bot.core import keys
from bot.core.events import PermanentError
from bot.core.jobs import (
    CanaryRequest,
    CardRequest,
    DriftRequest,
    JobRequest,
    MoveRequest,
    PlanRequest,
    PromoteRequest,
    ReconcileRequest,
    RollbackRequest,
    Step,
    TrainRequest,
)
from bot.core.models import PullFacts
from bot.ports import RepoGitHub


# `executor: actions`: the workflow (templates/workflows/) each heavy job kind dispatches, and the inputs it
# declares (GitHub refuses a dispatch with undeclared inputs). Rollback and reconcile are registry moves, not
# heavy work: they run in the local executor in both modes.
def _train_inputs(gh: RepoGitHub, r: JobRequest) -> dict[str, str]:
    assert isinstance(r, TrainRequest | CardRequest)
    return {"pr": str(r.pr), "model": r.model or "", "sha": _job_sha(gh.pull(r.pr), r)}


def _job_sha(pull: PullFacts, request: TrainRequest | CardRequest) -> str:
    """The commit a train/card job runs: the one its handler judged (approved, for a fork), never the head the
    PR has by the time the job starts, which may be a push nobody has read."""
    if request.sha:
        return request.sha
    if pull.is_fork:
        raise PermanentError(f"a job for fork pull request #{pull.number} names no approved commit")
    return pull.head_sha  # a same-repository job queued before jobs carried their commit


def _promote_inputs(gh: RepoGitHub, r: JobRequest) -> dict[str, str]:
    assert isinstance(r, PlanRequest | PromoteRequest)
    dry_run = isinstance(r, PlanRequest)
    return {
        "model": r.model or "",
        "sha": "" if isinstance(r, PlanRequest) else r.sha,
        "dry-run": "true" if dry_run else "false",
        "pr": str(r.pr or r.reply_to or ""),  # names the run, so its outcome finds the PR
    }


def _move_inputs(gh: RepoGitHub, r: JobRequest) -> dict[str, str]:
    """The promote workflow's job declares `environment: <this>`, so GitHub holds it for production's
    required reviewers and wait timer before it starts (https://docs.github.com/actions/reference/environments)."""
    assert isinstance(r, MoveRequest)
    return {
        "model": r.model or "",
        "sha": "",
        "dry-run": "true" if r.dry_run else "false",
        "pr": str(r.reply_to),
        "environment": r.to,
    }


def _drift_inputs(gh: RepoGitHub, r: JobRequest) -> dict[str, str]:
    assert isinstance(r, DriftRequest)
    return {"model": r.model or "", "report": "true", "issue": str(r.reply_to or "")}


WORKFLOWS: dict[str, tuple[str, Callable[[RepoGitHub, JobRequest], dict[str, str]]]] = {
    "train": ("mlops-pr.yml", _train_inputs),
    "card": ("mlops-pr.yml", _train_inputs),
    "plan": ("mlops-promote.yml", _promote_inputs),
    "promote": ("mlops-promote.yml", _promote_inputs),
    "move": ("mlops-promote.yml", _move_inputs),
    "drift": ("mlops-drift.yml", _drift_inputs),
}


class Plan(NamedTuple):
    """How the local executor runs one job: the commit to check out, the branch it may push dvc.lock back to,
    the CLI steps, the files to write beside them (`{job_dir}/<name>`) and the steps' environment."""

    checkout: str
    branch: str | None
    steps: list[Step]
    files: dict[str, str]
    env: dict[str, str]


def _model_args(model: str | None) -> list[str]:
    return ["--model", model] if model else []


def _pull_event(pull: PullFacts) -> str:
    """An Actions-style event file, so `mlops-bot train` reads its context exactly as it does on a runner."""
    return json.dumps(
        {
            "number": pull.number,
            "pull_request": {
                "number": pull.number,
                "html_url": pull.html_url,
                "head": {"sha": pull.head_sha, "ref": pull.head_ref, "repo": {"full_name": pull.head_repo}},
                "base": {"sha": pull.base_sha, "ref": pull.base_ref, "repo": {"full_name": pull.base_repo}},
            },
        }
    )


def _train_plan(gh: RepoGitHub, r: TrainRequest) -> Plan:
    pull = gh.pull(r.pr)
    sha = _job_sha(pull, r)
    # dvc.lock goes back only onto a branch of ours that still points at the trained commit.
    same_repo = not pull.is_fork and sha == pull.head_sha
    pull = dataclasses.replace(pull, head_sha=sha)
    train_args = ["train", *_model_args(r.model), "--json", "{job_dir}/train.json"]
    if same_repo:
        train_args += ["--commit-lock", pull.head_ref]  # what merges is what was trained
    steps = [
        Step(tuple(train_args), check=False),  # a failing stage still gets a card
        Step(("card", *_model_args(r.model), "--results", "{job_dir}/train.json", "--pr", str(pull.number))),
    ]
    env = {
        "GITHUB_EVENT_PATH": "{job_dir}/event.json",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_SHA": pull.head_sha,
    }
    branch = pull.head_ref if same_repo else None
    return Plan(pull.head_sha, branch, steps, {"event.json": _pull_event(pull)}, env)


def _card_plan(gh: RepoGitHub, r: CardRequest) -> Plan:
    pull = gh.pull(r.pr)
    pull = dataclasses.replace(pull, head_sha=_job_sha(pull, r))
    steps = [Step(("card", *_model_args(r.model), "--pr", str(pull.number), "--sha", pull.head_sha))]
    return Plan(
        pull.head_sha,
        None,
        steps,
        {"event.json": _pull_event(pull)},
        {"GITHUB_EVENT_PATH": "{job_dir}/event.json"},
    )


def _promote_plan(gh: RepoGitHub, r: PlanRequest | PromoteRequest) -> Plan:
    dry_run = isinstance(r, PlanRequest)
    if isinstance(r, PromoteRequest) and r.sha:
        sha = r.sha
    elif r.pr is not None:
        pull = gh.pull(r.pr)
        sha = pull.merge_commit_sha if pull.merged and pull.merge_commit_sha else pull.head_sha
    else:
        sha = gh.default_branch()
    args = ["promote", *_model_args(r.model), "--sha", sha]
    if r.pr is not None:
        args += ["--pr", str(r.pr)]
    if r.reply_to is not None:
        args += ["--reply-to", str(r.reply_to)]
    if dry_run:
        args.append("--dry-run")
    asked_by = keys.comment_effect(r.comment_id) if isinstance(r, PlanRequest) and r.comment_id else None
    if isinstance(r, PromoteRequest):
        asked_by = r.asked_by
    if asked_by:
        args += ["--key", asked_by, *(["--asked-at", r.asked_at] if r.asked_at else [])]
    args += ["--json", "{job_dir}/promote.json"]
    return Plan(sha, None, [Step(tuple(args))], {}, {})


def _move_plan(gh: RepoGitHub, r: MoveRequest) -> Plan:
    args = ["promote", *_model_args(r.model), "--to", r.to, "--reply-to", str(r.reply_to)]
    if r.asked_by:
        args += ["--asked-by", r.asked_by]
    if r.comment_id:
        args += [
            "--key",
            keys.comment_effect(r.comment_id),
            *(["--asked-at", r.asked_at] if r.asked_at else []),
        ]
    if r.dry_run:
        args.append("--dry-run")
    return Plan(gh.default_branch(), None, [Step(tuple(args))], {}, {})


def _canary_plan(gh: RepoGitHub, r: CanaryRequest) -> Plan:
    """A canary runs here in both executors, like a rollback: its service is built where promotions build."""
    args = ["canary", *_model_args(r.model), "--percent", r.percent, "--sha", r.sha]
    if r.pr is not None:
        args += ["--pr", str(r.pr)]
    if r.reply_to is not None:
        args += ["--reply-to", str(r.reply_to)]
    if r.comment_id:
        args += [
            "--key",
            keys.comment_effect(r.comment_id),
            *(["--asked-at", r.asked_at] if r.asked_at else []),
        ]
    if r.dry_run:
        args.append("--dry-run")
    args += ["--json", "{job_dir}/canary.json"]
    return Plan(r.sha, None, [Step(tuple(args))], {}, {})


def _rollback_plan(gh: RepoGitHub, r: RollbackRequest) -> Plan:
    args = ["rollback", *_model_args(r.model), "--reply-to", str(r.reply_to)]
    if r.to:
        args += ["--to", r.to]
    if r.job_key:
        args += ["--key", r.job_key]  # the job's: a retried job finds what it already did
    if r.dry_run:
        args.append("--dry-run")
    if r.asked_at:
        args += ["--asked-at", r.asked_at]
    args += ["--json", "{job_dir}/rollback.json"]  # names the run its kept log is an artifact of
    return Plan(gh.default_branch(), None, [Step(tuple(args))], {}, {})


def _drift_plan(gh: RepoGitHub, r: DriftRequest) -> Plan:
    model = _model_args(r.model)
    steps = [
        Step(("drift", *model, "--out", "{job_dir}/drift", "--json", "{job_dir}/drift.json"), check=False),
        Step(
            (
                "drift-report",
                *model,
                "--summary",
                "{job_dir}/drift.json",
                "--error-log",
                "{job_dir}/step0-drift.log",
                "--json",
                "{job_dir}/drift-report.json",
                *(["--reply-to", str(r.reply_to)] if r.reply_to else []),
            )
        ),
        # While a canary runs: it and the champion on the live requests both scored, once labelled.
        Step(("canary-compare", *model), check=False),
    ]
    return Plan(gh.default_branch(), None, steps, {}, {})


def _reconcile_plan(gh: RepoGitHub, r: ReconcileRequest) -> Plan:
    step = Step(("reconcile", *_model_args(r.model), *(["--dry-run"] if r.dry_run else [])))
    return Plan(gh.default_branch(), None, [step], {}, {})


def plan_job(gh: RepoGitHub, request: JobRequest) -> Plan:
    """Where (commit, branch) and how (CLI steps, files, environment) the local executor runs `request`."""
    match request:
        case TrainRequest():
            return _train_plan(gh, request)
        case CardRequest():
            return _card_plan(gh, request)
        case PlanRequest() | PromoteRequest():
            return _promote_plan(gh, request)
        case MoveRequest():
            return _move_plan(gh, request)
        case CanaryRequest():
            return _canary_plan(gh, request)
        case RollbackRequest():
            return _rollback_plan(gh, request)
        case DriftRequest():
            return _drift_plan(gh, request)
        case ReconcileRequest():
            return _reconcile_plan(gh, request)
    raise AssertionError(f"no plan for {request!r}")  # unreachable: JobRequest is closed
