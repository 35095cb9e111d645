"""`mlops-bot train`: `dvc repro` a model's stage and log the run to MLflow; writes the results as JSON.

It does not post to GitHub: `mlops-bot card --results` turns the JSON into the model card.
Exit 0 when every model trained (or reused its run), 1 when a stage failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.output import STDOUT, add_json_option, human, write_text

if TYPE_CHECKING:
    from bot.core.actions_output import Annotation
    from bot.core.config import RepoConfig
    from bot.core.models import TrainResult
    from bot.jobs.train import TrainContext


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="reproduce a model's DVC stage and log the run to MLflow",
        description=(
            "Run `dvc repro <stage>` for the model (pulling and pushing DVC data when a remote is set), log "
            "params, metrics, plots and the model to MLflow with the PR's tags, or reuse the run that "
            "already has this exact model output. Context comes from the flags or the GitHub Actions "
            "environment (GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_SERVER_URL, GITHUB_RUN_ID); the "
            "tracking server from MLFLOW_TRACKING_URI or MLOPS_BOT_MLFLOW_TRACKING_URI. The rules "
            "(.github/mlops-bot.yml: models, stages, the MLflow experiment) are read from the default branch "
            "through the GitHub API (GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL), never from the "
            "checkout being trained: a pull request cannot choose where its run is logged."
        ),
    )
    p.add_argument("--model", help="model name from the config (default: every configured model)")
    p.add_argument(
        "--offline-config",
        type=Path,
        metavar="FILE",
        help="train outside GitHub with the rules in FILE; refused when GITHUB_REPOSITORY or a GitHub token "
        "is set (then the default branch's config is read, always)",
    )
    p.add_argument("--repo-dir", type=Path, default=Path("."), help="the DVC/git checkout (default: .)")
    add_json_option(p, "the results (a list, one per model)")
    p.add_argument("--no-push", action="store_true", help="do not `dvc push` the results to the DVC remote")
    p.add_argument(
        "--commit-lock",
        metavar="BRANCH",
        help="commit a changed dvc.lock as mlops-bot and push it to this branch of origin",
    )
    context = p.add_argument_group("context (default: from the GitHub Actions environment)")
    context.add_argument("--repo", help="owner/name (default: GITHUB_REPOSITORY)")
    context.add_argument("--pr", type=int, help="pull request number (default: from the event)")
    context.add_argument("--head-sha", help="commit being trained (default: from the event, else HEAD)")
    context.add_argument("--base-sha", help="commit to compare with (default: the PR's base from the event)")
    context.add_argument("--base-ref", help="branch the PR targets (default: from the event)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.adapters.actions_runner import ActionsRunner
    from bot.adapters.dvc import DvcError, run_git
    from bot.adapters.mlflow import MlflowRegistry
    from bot.cli import UserError
    from bot.core.actions_output import config_error_annotations
    from bot.core.config import ConfigError
    from bot.core.pushes import lock_commit_message
    from bot.jobs.common import JobSetupError, job_config
    from bot.jobs.train import TrainSetupError, commit_lock_if_changed, on_lock_commit, results_to_json, train
    from bot.settings import Settings

    root: Path = args.repo_dir
    runner = ActionsRunner(os.environ)
    try:
        config = job_config(os.environ, repo=args.repo, offline_config=args.offline_config)
    except JobSetupError as exc:
        hint = "" if args.offline_config else "; to train outside GitHub, pass --offline-config FILE"
        _write_failure(args, f"{exc}{hint}")
        raise UserError(f"{exc}{hint}") from exc
    except ConfigError as exc:
        _write_failure(args, str(exc))
        for note in config_error_annotations(exc.path, exc.problems):
            runner.annotate(note)
        raise UserError(str(exc)) from exc

    context = resolve_commits(root, context_from_environment(os.environ, _read_event(os.environ), args))
    if not context.head_sha:
        try:
            context = _with_head(context, run_git(root, "rev-parse", "HEAD").strip())
        except DvcError as exc:
            raise UserError(f"{root} is not a git checkout: {exc}") from exc
    _warn_if_not_head(root, context.head_sha)

    tracking_uri = Settings().mlflow_tracking_uri  # type: ignore[call-arg]  # fields come from the environment
    registry = MlflowRegistry(tracking_uri, repository=context.repo or None)
    try:
        results = train(
            root,
            config,
            model=args.model,
            context=context,
            registry=registry,
            push=not args.no_push,
            echo=sys.stderr,
            phase=lambda model, name: runner.start_group(f"{model}: {PHASE_TITLES.get(name, name)}"),
        )
    except TrainSetupError as exc:
        _write_failure(args, str(exc))
        raise UserError(str(exc)) from exc
    finally:
        runner.end_group()
    for note in result_annotations(results, config, root, os.environ):
        runner.annotate(note)

    if args.json is not None and args.json != STDOUT:  # at once: a crash below still leaves the results
        write_text(args.json, results_to_json(results))
    print(summary(results), file=human(args))
    ok = all(r.ok for r in results)
    if ok and args.commit_lock:
        sha = commit_lock_if_changed(root, args.commit_lock, lock_commit_message([r.model for r in results]))
        print(
            f"committed dvc.lock to {args.commit_lock}: {sha}"
            if sha
            else "dvc.lock unchanged; nothing to commit",
            file=human(args),
        )
        if sha:
            results = on_lock_commit(registry, results, sha)
            if args.json is not None and args.json != STDOUT:
                write_text(args.json, results_to_json(results))
    if args.json == STDOUT:
        write_text(STDOUT, results_to_json(results))
    sys.stdout.flush()
    return 0 if ok else 1


# The log group each phase of a training opens in an Actions run (bot/jobs/train.py names the phases).
PHASE_TITLES = {
    "pull": "dvc pull",
    "repro": "dvc repro",
    "log": "log the run to MLflow",
    "push": "dvc push",
}


def result_annotations(
    results: list[TrainResult], config: RepoConfig, root: Path, environ: Mapping[str, str]
) -> list[Annotation]:
    """An error on the dvc.yaml line of each failed stage (a failed data pull has no line: no stage ran), a
    warning per thing that went wrong without failing the training."""
    from bot.core.actions_output import Annotation, failed_stage, stage_line

    dvc_yaml = root / "dvc.yaml"
    try:
        text = dvc_yaml.read_text(encoding="utf-8")
    except OSError:
        text = ""
    file = _workspace_path(dvc_yaml, environ)
    notes = []
    for r in results:
        title = f"mlops-bot train: {r.model}"
        if not r.ok and r.failed_before_stage:
            notes.append(Annotation("error", r.error, title=title))
        elif not r.ok:
            spec = config.model(r.model)
            stage = failed_stage(r.error, spec.stage if spec else "")
            tail = "\n".join(r.log_tail.splitlines()[-10:])
            message = f"{r.error}\n{tail}" if tail else r.error
            notes.append(Annotation("error", message, file=file, line=stage_line(text, stage), title=title))
        notes += [Annotation("warning", w, title=title) for w in r.warnings]
    return notes


def _workspace_path(path: Path, environ: Mapping[str, str]) -> str:
    """`path` as the annotation wants it: relative to the repository root (GITHUB_WORKSPACE), which is not the
    working directory in a monorepo."""
    workspace = environ.get("GITHUB_WORKSPACE")
    if workspace:
        try:
            return path.resolve().relative_to(Path(workspace).resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _write_failure(args: argparse.Namespace, error: str) -> None:
    """With --json, a training that could not start still leaves a result file, so a card can say why."""
    if args.json is None:
        return
    from bot.core.models import TrainResult
    from bot.jobs.train import results_to_json

    failed = TrainResult(
        model=args.model or "", run=None, reused=False, ok=False, error=error, failed_before_stage=True
    )
    write_text(args.json, results_to_json([failed]))


def summary(results: list[TrainResult]) -> str:
    """A line per model for a terminal or a job log."""
    lines = []
    for r in results:
        if not r.ok:
            lines.append(f"{r.model}: FAILED in {r.duration_s:.1f}s: {r.error}")
            continue
        if r.reused:
            verb = "nothing to reproduce, reused run"
        elif r.reproduced is False:
            verb = "nothing to reproduce (outputs from the DVC cache), logged run"
        else:
            verb = "trained, run"
        run_id = r.run.run_id if r.run else "?"
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(r.metrics.items()))
        lines.append(f"{r.model}: {verb} {run_id} ({metrics}) in {r.duration_s:.1f}s; model {r.output_hash}")
        if r.run and r.run.url:
            lines.append(f"  {r.run.url}")
        lines += [f"  warning: {w}" for w in r.warnings]
    return "\n".join(lines)


def context_from_environment(
    environ: Mapping[str, str], event: Mapping[str, Any], args: argparse.Namespace
) -> TrainContext:
    """Flags first, then the Actions event (pull_request, push, workflow_dispatch inputs), then variables."""
    from bot.jobs.train import TrainContext

    pull = event.get("pull_request") or {}
    inputs = event.get("inputs") or {}
    pr = args.pr or pull.get("number") or _int(inputs.get("pr"))
    head = (
        args.head_sha or (pull.get("head") or {}).get("sha") or inputs.get("head_sha") or event.get("after")
    )
    base = (
        args.base_sha or (pull.get("base") or {}).get("sha") or inputs.get("base_sha") or event.get("before")
    )
    base_ref = args.base_ref or (pull.get("base") or {}).get("ref") or environ.get("GITHUB_BASE_REF", "")
    if not base_ref and str(event.get("ref", "")).startswith("refs/heads/"):
        base_ref = str(event["ref"]).removeprefix("refs/heads/")
    repo = args.repo or environ.get("GITHUB_REPOSITORY", "")
    server, run_id = environ.get("GITHUB_SERVER_URL", ""), environ.get("GITHUB_RUN_ID", "")
    ci_url = f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else ""
    return TrainContext(
        repo=repo,
        pr=int(pr) if pr else None,
        head_sha=str(head or ""),
        base_sha=_real_sha(base),
        base_ref=str(base_ref or ""),
        ci_url=ci_url,
    )


_FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def resolve_commits(root: Path, context: TrainContext) -> TrainContext:
    """`--base-sha main` or `--head-sha HEAD` as the commit they name: a run is tagged, and later found, by
    sha, never by a name that moves."""
    import dataclasses

    from bot.adapters.dvc import DvcError, run_git
    from bot.cli import UserError

    def commit(flag: str, value: str) -> str:
        if not value or _FULL_SHA.match(value):
            return value
        try:
            return run_git(root, "rev-parse", "--verify", "--quiet", f"{value}^{{commit}}").strip()
        except DvcError as exc:
            raise UserError(
                f"{flag} {value} is not a commit of {root} (fetch it, or pass the full sha)"
            ) from exc

    return dataclasses.replace(
        context,
        head_sha=commit("--head-sha", context.head_sha),
        base_sha=commit("--base-sha", context.base_sha),
    )


def _read_event(environ: Mapping[str, str]) -> dict[str, Any]:
    from bot.cli import UserError

    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"GITHUB_EVENT_PATH={path}: cannot read the event: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _real_sha(value: Any) -> str:
    """A push's `before` is all zeros when the branch is new: there is nothing to compare with."""
    text = str(value or "")
    return "" if set(text) <= {"0"} else text


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _with_head(context: TrainContext, head_sha: str) -> TrainContext:
    import dataclasses

    return dataclasses.replace(context, head_sha=head_sha)


def _warn_if_not_head(root: Path, head_sha: str) -> None:
    """Actions checks out the PR's merge commit by default; the run would then be tagged with a commit it
    did not train on."""
    from bot.adapters.dvc import DvcError, run_git

    try:
        actual = run_git(root, "rev-parse", "HEAD").strip()
    except DvcError:
        return
    if head_sha and actual != head_sha:
        print(
            f"mlops-bot train: warning: the checkout is at {actual[:12]}, not the PR head {head_sha[:12]}; "
            "check out the head commit (actions/checkout with ref: the PR head sha) so the run describes it",
            file=sys.stderr,
        )
