"""`mlops-bot reconcile`: compare the champion alias with the model git pins, and report or correct; then move
on what has soaked in staging long enough (`promotion.soak`)."""

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
    from bot.jobs.promote import store_lock
    from bot.jobs.reconcile import reconcile
    from bot.jobs.soak import soak, store_checks

    try:
        env = JobEnv.from_environment(repo=args.repo)
        outcomes, soaked = [], []
        for name in env.models(args.model):
            spec = env.config.model(name)
            assert spec is not None
            outcomes.append(reconcile(env, spec, dry_run=args.dry_run))
            moved = soak(
                env,
                spec,
                checks=store_checks(env),
                dry_run=args.dry_run,
                lock=lambda lock_name: store_lock(env.settings.database_url, lock_name),
            )
            if moved is not None:
                soaked.append(moved)
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
    for m in soaked:
        where = f"v{m.version} to {m.environment}" if m.version else m.environment
        print(
            f"{m.model}: soak: {m.status} {where}: {plain('; '.join(m.reasons))}".rstrip(": "),
            file=human(args),
        )
    if args.json:
        write_json(args.json, outcomes)
    return 0
