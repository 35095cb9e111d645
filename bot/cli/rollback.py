"""`mlops-bot rollback`: move the champion alias back (to `previous`, or to --to VERSION)."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli import UserError, add_github_job_options
from bot.cli.output import human, plain, write_json


def register(sub: Any) -> None:
    p = sub.add_parser("rollback", help="move the champion back and record a Deployment")
    p.add_argument("--model", help="the model (default: the only configured one)")
    p.add_argument("--to", help="version to roll back to (default: the `previous` alias)")
    p.add_argument("--reply-to", type=int, help="issue or PR number to answer on")
    p.add_argument("--dry-run", action="store_true", help="answer with the plan and change nothing")
    p.add_argument(
        "--key", default="", help="the job's key: a retry with the same key repeats no step (set by the bot)"
    )
    p.add_argument("--asked-at", help="when the command was made (ISO 8601): no answer to it is older")
    add_github_job_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.adapters.mlflow import ForeignModelError
    from bot.jobs.common import JobEnv, JobSetupError
    from bot.jobs.promote import store_lock
    from bot.jobs.rollback import rollback

    try:
        env = JobEnv.from_environment(repo=args.repo)
        models = env.models(args.model)
        if len(models) != 1:
            raise UserError(f"several models are configured ({', '.join(models)}): name one with --model")
        outcome = rollback(
            env,
            model=models[0],
            to=args.to,
            reply_to=args.reply_to,
            key=args.key,
            dry_run=args.dry_run,
            asked_at=args.asked_at,
            lock=lambda name: store_lock(env.settings.database_url, name),
        )
    except (JobSetupError, ForeignModelError) as exc:
        raise UserError(str(exc)) from exc
    print(
        f"{outcome.model}: {outcome.status} "
        + (
            f"v{outcome.previous} -> v{outcome.version}"
            if outcome.version
            else "; ".join(plain(outcome.reasons))
        ),
        file=human(args),
    )
    if args.json:
        write_json(args.json, outcome)
    return 0
