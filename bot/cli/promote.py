"""`mlops-bot promote`: promote the model trained on a commit (or show the plan with --dry-run)."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.cli import UserError, add_github_job_options
from bot.cli.output import human, plain, write_json


def register(sub: Any) -> None:
    p = sub.add_parser("promote", help="register, gate, alias, build the service, record a Deployment")
    p.add_argument("--sha", help="the commit whose dvc.lock names the model to promote (not with --to)")
    p.add_argument(
        "--to",
        metavar="ENVIRONMENT",
        help="move the version the previous environment serves on to ENVIRONMENT (promotion.environments), "
        "once its protection rules allow",
    )
    p.add_argument("--asked-by", help="with --to: the login who asked (production's required reviewers)")
    p.add_argument(
        "--github-enforced",
        action="store_true",
        help="with --to: this runs in a workflow job that declares `environment: ENVIRONMENT`, so GitHub "
        "enforced its protection rules before the job started",
    )
    p.add_argument("--model", help="one model (default: every model in the config)")
    p.add_argument("--pr", type=int, help="the merged pull request (approvals, replies)")
    p.add_argument("--reply-to", type=int, help="issue or PR number to answer on (default: --pr)")
    p.add_argument(
        "--dry-run", action="store_true", help="show the plan and every gate's verdict; change nothing"
    )
    p.add_argument(
        "--key",
        help="the command's own key (e.g. c<comment id>): its plan is answered once per command, a retry edits it",
    )
    p.add_argument("--asked-at", help="when the command was made (ISO 8601): no answer to it is older")
    p.add_argument("--no-bento", action="store_true", help="skip the BentoML service build")
    p.add_argument("--repo-dir", type=Path, default=Path("."), help="checkout of --sha (default: .)")
    add_github_job_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.adapters.mlflow import ForeignModelError
    from bot.jobs.common import JobEnv, JobSetupError
    from bot.jobs.promote import promote, store_lock

    if args.to:
        return _move(args)
    if not args.sha:
        raise UserError("promote needs --sha (the commit whose dvc.lock names the model) or --to ENVIRONMENT")
    try:
        env = JobEnv.from_environment(repo=args.repo)
        models = env.models(args.model)
        with contextlib.ExitStack() as stack:
            builder = None if (args.no_bento or args.dry_run) else stack.enter_context(_bento_builder(env))
            outcomes = promote(
                env,
                args.repo_dir,
                sha=args.sha,
                models=models,
                pr=args.pr,
                reply_to=args.reply_to if args.reply_to is not None else args.pr,
                dry_run=args.dry_run,
                command=(args.key, args.asked_at) if args.key else None,
                lock=lambda name: store_lock(env.settings.database_url, name),
                build_bento=builder,
            )
    except (JobSetupError, ForeignModelError) as exc:
        raise UserError(str(exc)) from exc
    for o in outcomes:
        detail = f"v{o.version}" if o.version else "; ".join(plain(o.reasons))
        print(f"{o.model}: {o.status} {detail}".rstrip(), file=human(args))
    if args.json:
        write_json(args.json, outcomes)
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _move(args: argparse.Namespace) -> int:
    """`--to ENVIRONMENT`: bot/jobs/promote_env.py moves each model on."""
    from bot.adapters.mlflow import ForeignModelError
    from bot.jobs.common import JobEnv, JobSetupError
    from bot.jobs.promote import store_lock
    from bot.jobs.promote_env import move_on

    if args.sha:
        raise UserError("--to moves what the previous environment serves; it takes no --sha")
    try:
        env = JobEnv.from_environment(repo=args.repo)
        outcomes = [
            move_on(
                env,
                model=name,
                to=args.to,
                asked_by=args.asked_by or None,
                reply_to=args.reply_to if args.reply_to is not None else args.pr,
                dry_run=args.dry_run,
                key=args.key or "",
                asked_at=args.asked_at,
                lock=lambda lock_name: store_lock(env.settings.database_url, lock_name),
                github_enforced=args.github_enforced,
            )
            for name in env.models(args.model)
        ]
    except (JobSetupError, ForeignModelError) as exc:
        raise UserError(str(exc)) from exc
    for o in outcomes:
        detail = f"v{o.version} {o.environment}" if o.status == "promoted" else "; ".join(plain(o.reasons))
        print(f"{o.model}: {o.status} {detail}".rstrip(), file=human(args))
    if args.json:
        write_json(args.json, outcomes)
    return 0  # a refusal is an answer (posted with its reasons), not a failed job to retry


def bento_store(work_dir: Path) -> Path | None:
    """The BentoML store the bot builds into: $BENTOML_HOME when set, else one in the bot's work dir (not the
    user's ~/bentoml, which other tools and runs share)."""
    return None if os.environ.get("BENTOML_HOME") else work_dir.resolve() / "bentoml"


@contextlib.contextmanager
def _bento_builder(env: Any) -> Iterator[Any]:
    """What builds each promoted version's bento. Its BentoML process starts now, so its imports overlap the
    gates and registry calls before the first build (issue 12); it is stopped when the job is done."""
    from bot.adapters.bentoml import bento_session, build_service

    home = bento_store(env.settings.work_dir)
    session = bento_session(home, env.settings.mlflow_tracking_uri)

    def build(version: Any, sha: str) -> tuple[str, str]:
        out = env.settings.work_dir.resolve() / "bentos"
        out.mkdir(parents=True, exist_ok=True)
        spec = env.config.model(version.name)
        # The service records its traffic where the model's monitoring reads it (drift.traffic).
        traffic = spec.drift.traffic.model_dump() if spec is not None and spec.drift is not None else None
        result = build_service(
            model_name=version.name,
            version=version.version,
            model_uri=f"models:/{version.name}/{version.version}",
            tracking_uri=env.settings.mlflow_tracking_uri,
            git_sha=sha,
            out_dir=out,
            bentoml_home=home,
            traffic=traffic,
            session=session,
        )
        return result.tag, result.note

    with session:
        yield build
