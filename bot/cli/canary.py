"""`mlops-bot canary`: serve a candidate beside the champion for a share of the requests (`/promote MODEL
--canary 10%`), or show the plan with --dry-run."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from bot.cli import UserError, add_github_job_options
from bot.cli.output import human, plain, write_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "canary", help="serve a candidate beside the champion for a share of the requests (a canary)"
    )
    p.add_argument("--model", help="the model (default: the only configured one)")
    p.add_argument(
        "--percent",
        required=True,
        help="the candidate's share of requests, above 0 and below 100 (10 or 10%%)",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--sha", help="the commit whose dvc.lock names the candidate (a PR's head)")
    which.add_argument("--version", help="a registered version to run as the canary")
    p.add_argument("--pr", type=int, help="the pull request the candidate comes from (its replies)")
    p.add_argument("--reply-to", type=int, help="issue or PR number to answer on (default: --pr)")
    p.add_argument("--dry-run", action="store_true", help="answer with the plan and change nothing")
    p.add_argument("--key", default="", help="the command's key (set by the bot): one answer per command")
    p.add_argument("--asked-at", help="when the command was made (ISO 8601): no answer to it is older")
    p.add_argument("--no-bento", action="store_true", help="skip the BentoML service build")
    p.add_argument("--repo-dir", type=Path, default=Path("."), help="checkout of --sha (default: .)")
    add_github_job_options(p)
    p.set_defaults(func=run)

    c = sub.add_parser(
        "canary-compare",
        help="compare the running canary with the champion on the live requests both scored (once labelled)",
    )
    c.add_argument("--model", help="the model (default: the only configured one)")
    c.add_argument(
        "--reply-to",
        type=int,
        help="issue or PR to post on (default: the candidate's PR, else the drift issue)",
    )
    c.add_argument("--repo-dir", type=Path, default=Path("."), help="checkout the traffic log is relative to")
    add_github_job_options(c)
    c.set_defaults(func=run_compare)


def percent_of(text: str) -> float:
    """`10`, `10%` or `2.5` as a percent; UserError saying what is wanted otherwise."""
    from bot.core.commands import CANARY_SHARE

    match = CANARY_SHARE.match(text.strip())
    percent = float(match.group("percent")) if match else 0.0
    if match is None or not 0 < percent < 100:
        raise UserError(f"--percent needs a share above 0 and below 100, like 10 or 2.5%, not {text!r}")
    return percent


def run(args: argparse.Namespace) -> int:
    from bot.adapters.mlflow import ForeignModelError
    from bot.cli.promote import _bento_builder  # the candidate alone, as its promotion would build it
    from bot.jobs.canary import start_canary
    from bot.jobs.common import JobEnv, JobSetupError
    from bot.jobs.promote import store_lock

    percent = percent_of(args.percent)
    try:
        env = JobEnv.from_environment(repo=args.repo)
        models = env.models(args.model)
        if len(models) != 1:
            raise UserError(f"several models are configured ({', '.join(models)}): name one with --model")
        building = not (args.no_bento or args.dry_run)
        with contextlib.ExitStack() as stack:
            outcome = start_canary(
                env,
                args.repo_dir,
                model=models[0],
                percent=percent,
                sha=args.sha or "",
                pr=args.pr,
                version=args.version,
                reply_to=args.reply_to if args.reply_to is not None else args.pr,
                dry_run=args.dry_run,
                key=args.key,
                asked_at=args.asked_at,
                lock=lambda name: store_lock(env.settings.database_url, name),
                build=None if not building else canary_builder(env),
                build_own=None if not building else stack.enter_context(_bento_builder(env)),
            )
    except (JobSetupError, ForeignModelError) as exc:
        raise UserError(str(exc)) from exc
    detail = (
        f"v{outcome.version} answers {outcome.percent:g}% beside v{outcome.champion}"
        if outcome.status in ("started", "already", "planned")
        else "; ".join(plain(outcome.reasons))
    )
    print(f"{outcome.model}: {outcome.status} {detail}".rstrip(), file=human(args))
    if args.json:
        write_json(args.json, outcome)
    return 1 if outcome.status == "failed" else 0


def run_compare(args: argparse.Namespace) -> int:
    from bot.adapters.mlflow import ForeignModelError
    from bot.jobs.canary_compare import compare_canary
    from bot.jobs.common import JobEnv, JobSetupError

    try:
        env = JobEnv.from_environment(repo=args.repo)
        outcomes = [
            compare_canary(env, args.repo_dir, model=model, reply_to=args.reply_to)
            for model in env.models(args.model)
        ]
    except (JobSetupError, ForeignModelError) as exc:
        raise UserError(str(exc)) from exc
    for o in outcomes:
        detail = (
            f"v{o.version} beside v{o.champion}: {o.requests} request(s) scored by both, {o.labelled} labelled"
            if o.version
            else ""
        )
        why = "; ".join(plain(o.reasons))
        print(f"{o.model}: {o.status} {detail}{' (' + why + ')' if why else ''}".rstrip(), file=human(args))
    if args.json:
        write_json(args.json, outcomes)
    return 0


def canary_builder(env: Any) -> Any:
    """The canary's service: champion and candidate in one bento, built as a promotion builds its own."""

    def build(champion: Any, candidate: Any, share: float, sha: str) -> tuple[str, str]:
        from bot.adapters.bentoml import CanaryModel, build_service
        from bot.cli.promote import bento_store
        from bot.core.tags import VersionTags

        out = env.settings.work_dir.resolve() / "bentos"
        out.mkdir(parents=True, exist_ok=True)
        spec = env.config.model(champion.name)
        traffic = spec.drift.traffic.model_dump() if spec is not None and spec.drift is not None else None
        result = build_service(
            model_name=champion.name,
            version=champion.version,
            model_uri=f"models:/{champion.name}/{champion.version}",
            tracking_uri=env.settings.mlflow_tracking_uri,
            git_sha=champion.tags.get(VersionTags.GIT_SHA, ""),
            out_dir=out,
            bentoml_home=bento_store(env.settings.work_dir),
            traffic=traffic,
            canary=CanaryModel(
                version=candidate.version,
                model_uri=f"models:/{candidate.name}/{candidate.version}",
                share=share,
                git_sha=sha or candidate.tags.get(VersionTags.GIT_SHA, ""),
            ),
        )
        return result.tag, result.note

    return build
