"""`mlops-bot card`: post (or refresh) the model card comment and Check Run on a pull request; with
`--local`, print the card of a local training result without GitHub."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli import UserError, add_github_job_options


def register(sub: Any) -> None:
    p = sub.add_parser("card", help="post the sticky model card and Check Run on a pull request")
    p.add_argument("--pr", type=int, help="pull request number (required unless --local)")
    p.add_argument("--model", help="one model (default: every model in the config)")
    p.add_argument(
        "--results",
        type=Path,
        help="the JSON `mlops-bot train --json` wrote; without it, the newest "
        "run of the PR's head commit is used",
    )
    p.add_argument("--sha", help="head commit (default: the PR's head)")
    p.add_argument(
        "--untrusted",
        action="store_true",
        help="the results file was uploaded by a run of a fork's code (the workflow_run path): read it as "
        "size-bounded, schema-checked data, post only if --sha is still the PR's head, never a success check",
    )
    local = p.add_argument_group(
        "preview without GitHub",
        "render the card of `mlops-bot train --offline-config FILE --json out.json` locally, before "
        "installing anything: `mlops-bot card --local --results out.json`",
    )
    local.add_argument(
        "--local",
        action="store_true",
        help="print the card of --results; nothing is posted, no GitHub needed",
    )
    local.add_argument(
        "--offline-config",
        type=Path,
        default=Path(".github/mlops-bot.yml"),
        help="with --local: the rules the card judges by (default: %(default)s)",
    )
    local.add_argument("--out", type=Path, help="with --local: write the card here instead of stdout")
    add_github_job_options(p, json_output=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.local:
        return run_local(args)
    if args.pr is None:
        raise UserError("--pr is required (or --local, to print the card of a local result)")
    import dataclasses

    from bot.adapters.mlflow import ForeignModelError
    from bot.core.models import train_result_from_dict
    from bot.jobs.card import UntrustedResultsError, post_cards, results_for_commit, untrusted_results
    from bot.jobs.common import JobEnv, JobSetupError, ci_url
    from bot.jobs.job_reports import JobReports

    reports = None
    try:
        env = JobEnv.from_environment(repo=args.repo)
        pull = env.gh.pull(args.pr)
        models = env.models(args.model)
        if args.untrusted:
            if args.results is None or not args.sha:
                raise UserError("--untrusted needs --results and the --sha the untrusted run checked out")
            if pull.head_sha != args.sha:
                raise UserError(
                    f"#{args.pr} moved on from {args.sha[:12]} (now {pull.head_sha[:12]}): no card for an "
                    "old head from an untrusted run"
                )
        if args.results is not None:
            if not args.results.is_file():
                raise UserError(f"{args.results}: no such results file (did `mlops-bot train --json` run?)")
            if args.untrusted:
                try:
                    results = untrusted_results(args.results.read_bytes())
                except UntrustedResultsError as exc:
                    raise UserError(f"{args.results}: {exc}") from exc
            else:
                raw = json.loads(args.results.read_text())
                results = [train_result_from_dict(r) for r in (raw if isinstance(raw, list) else [raw])]
            results = [r for r in results if r.model in models]
        else:
            results = results_for_commit(env, models, args.sha or pull.head_sha)
        lock_commit = next((r.lock_commit for r in results if r.lock_commit), "")
        if args.sha:
            pull = dataclasses.replace(pull, head_sha=args.sha)  # the card and check name the judged commit
        elif lock_commit:
            pull = dataclasses.replace(
                pull, head_sha=lock_commit
            )  # the PR's head: the trained commit + dvc.lock
        reports = JobReports.for_job(env, ci_url=ci_url())
        outcomes = post_cards(env, results, pull, untrusted=args.untrusted, reports=reports)
    except (JobSetupError, ForeignModelError) as exc:
        raise UserError(str(exc)) from exc
    finally:
        _close(reports)
    for o in outcomes:
        print(f"{o.model}: card comment {o.comment_id}, check run {o.check_run_id} -> {o.conclusion} {o.url}")
    _tell_the_runner(env, outcomes)
    return 0


def _close(reports: Any) -> None:
    """Close where the cards were kept, and say what could not be kept."""
    if reports is None:
        return
    reports.close()
    for note in reports.notes:
        print(f"  note: {note}", file=sys.stderr)


def _tell_the_runner(env: Any, outcomes: list[Any]) -> None:
    """On an Actions runner: each card in the step summary, a warning on the config line of each failed gate,
    and the first card's URL as the step's `card-url` output."""
    import os

    from bot.adapters.actions_runner import ActionsRunner
    from bot.core.actions_output import gate_annotation
    from bot.core.config import CONFIG_PATH
    from bot.core.markers import without_markers

    runner = ActionsRunner(os.environ)
    if not runner.active or not outcomes:
        return
    runner.set_output("card-url", outcomes[0].url)
    for o in outcomes:
        runner.append_summary(without_markers(o.body))
    if any(o.failed_gates for o in outcomes):
        text = env.gh.read_file(CONFIG_PATH) or ""
        models = [(m.name, [metric.name for metric in m.metrics]) for m in env.config.models]
        for o in outcomes:
            for metric, reason in o.failed_gates:
                runner.annotate(gate_annotation(text, CONFIG_PATH, models, o.model, metric, reason))


def run_local(args: argparse.Namespace) -> int:
    """The card of a local result, printed: no GitHub, no MLflow lookup (so no champion to compare with)."""
    from bot.core.config import ConfigError, load_config
    from bot.jobs.card import local_cards
    from bot.jobs.train import results_from_json

    if args.results is None:
        raise UserError(
            "--local needs --results FILE, the JSON `mlops-bot train --offline-config FILE --json FILE` wrote"
        )
    if args.untrusted:
        raise UserError("--untrusted posts a fork's results on GitHub; --local only prints a card")
    if not args.results.is_file():
        raise UserError(f"{args.results}: no such results file (did `mlops-bot train --json` run?)")
    if not args.offline_config.is_file():
        raise UserError(f"{args.offline_config}: no such config file; `mlops-bot init` writes one")
    try:
        config = load_config(args.offline_config.read_text(), str(args.offline_config))
    except ConfigError as exc:
        raise UserError(str(exc)) from exc
    try:
        results = results_from_json(args.results.read_text())
    except (ValueError, TypeError) as exc:
        raise UserError(f"{args.results}: not a results file of `mlops-bot train --json` ({exc})") from exc
    if args.model:
        results = [r for r in results if r.model == args.model]
    unknown = sorted({r.model for r in results} - {m.name for m in config.models})
    if unknown:
        print(f"mlops-bot card: not in {args.offline_config}, no card: {', '.join(unknown)}", file=sys.stderr)
    text = local_cards(config, results, head_sha=args.sha or "")
    if not text:
        raise UserError(f"no card: {args.results} holds no result of a model in {args.offline_config}")
    if args.out is not None:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0
