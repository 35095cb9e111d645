"""`mlops-bot card`: post (or refresh) the model card comment and Check Run on a pull request."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.cli import UserError, add_github_job_options


def register(sub: Any) -> None:
    p = sub.add_parser("card", help="post the sticky model card and Check Run on a pull request")
    p.add_argument("--pr", type=int, required=True, help="pull request number")
    p.add_argument("--model", help="one model (default: every model in the config)")
    p.add_argument(
        "--results",
        type=Path,
        help="the JSON `mlops-bot train --json` wrote; without it, the newest "
        "run of the PR's head commit is used",
    )
    p.add_argument("--sha", help="head commit (default: the PR's head)")
    add_github_job_options(p, json_output=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.core.models import train_result_from_dict
    from bot.jobs.card import post_cards, results_for_commit
    from bot.jobs.common import JobEnv, JobSetupError

    try:
        env = JobEnv.from_environment(repo=args.repo)
        pull = env.gh.pull(args.pr)
        models = env.models(args.model)
        if args.results is not None:
            if not args.results.is_file():
                raise UserError(f"{args.results}: no such results file (did `mlops-bot train --json` run?)")
            raw = json.loads(args.results.read_text())
            results = [train_result_from_dict(r) for r in (raw if isinstance(raw, list) else [raw])]
            results = [r for r in results if r.model in models]
        else:
            results = results_for_commit(env, models, args.sha or pull.head_sha)
        outcomes = post_cards(env, results, pull)
    except JobSetupError as exc:
        raise UserError(str(exc)) from exc
    for o in outcomes:
        print(f"{o.model}: card comment {o.comment_id}, check run {o.check_run_id} -> {o.conclusion}")
    return 0
