"""`mlops-bot reconcile`: compare the champion alias with the model git pins, and report or correct."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli import UserError, add_github_job_options
from bot.cli.output import human, plain, write_json


def register(sub: Any) -> None:
    p = sub.add_parser("reconcile", help="compare the champion alias with the default branch's dvc.lock")
    p.add_argument("--model", help="one model (default: every model in the config)")
    p.add_argument(
        "--dry-run", action="store_true", help="say what would be reported or corrected; change nothing"
    )
    add_github_job_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.adapters.mlflow import ForeignModelError
    from bot.jobs.common import JobEnv, JobSetupError
    from bot.jobs.reconcile import reconcile

    try:
        env = JobEnv.from_environment(repo=args.repo)
        outcomes = []
        for name in env.models(args.model):
            spec = env.config.model(name)
            assert spec is not None
            outcomes.append(reconcile(env, spec, dry_run=args.dry_run))
    except (JobSetupError, ForeignModelError) as exc:
        raise UserError(str(exc)) from exc
    for o in outcomes:
        if o.reason:
            print(f"{o.model}: {o.status}: {plain(o.reason)}", file=human(args))
            continue
        print(
            f"{o.model}: {o.status} (champion v{o.actual_version or '-'}, git wants v{o.desired_version or '?'})",
            file=human(args),
        )
    if args.json:
        write_json(args.json, outcomes)
    return 0
