"""`mlops-bot drift-report`: open or update the monitoring issue and, when a trigger asks, the retrain PR."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

from bot.cli import UserError, add_github_job_options
from bot.cli.output import human, write_text
from bot.core.scrub import scrub


def register(sub: Any) -> None:
    p = sub.add_parser(
        "drift-report", help="turn a drift check's summary into the monitoring issue and a retrain PR"
    )
    p.add_argument("--summary", type=Path, required=True, help="the JSON `mlops-bot drift --json` wrote")
    p.add_argument("--model", help="the model (default: the only configured one)")
    p.add_argument("--error-log", type=Path, help="the drift step's log, quoted when no summary was written")
    p.add_argument("--reply-to", type=int, help="issue or PR number where /drift was asked")
    p.add_argument("--sha", help="commit the check run goes on (default: HEAD of --repo-dir)")
    p.add_argument("--repo-dir", type=Path, default=Path("."))
    add_github_job_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from bot.adapters.mlflow import ForeignModelError
    from bot.core.models import drift_summary_from_dict
    from bot.core.monitoring import facts_from_dict
    from bot.jobs.common import JobEnv, JobSetupError, ci_url
    from bot.jobs.drift_keep import ReportKeeper
    from bot.jobs.drift_report import report

    try:
        env = JobEnv.from_environment(repo=args.repo)
        models = env.models(args.model)
        if len(models) != 1:
            raise UserError(f"several models are configured ({', '.join(models)}): name one with --model")
        spec = env.config.model(models[0])
        assert spec is not None
        sha = args.sha or _head(args.repo_dir)
        facts, error = None, ""
        if args.summary.is_file():
            raw = json.loads(args.summary.read_text())
            if isinstance(raw, list):
                raw = next((r for r in raw if r.get("model") == spec.name), raw[0] if raw else {})
            if raw.get("error"):
                error = str(raw["error"])
            else:
                facts = facts_from_dict(raw, drift_summary_from_dict(raw))
        else:
            error = _tail(args.error_log) or f"{args.summary} was not written: the drift check did not finish"
        keeper = ReportKeeper.from_environment(env.repo, public_url=env.settings.public_url, ci_url=ci_url())
        try:
            outcome = report(
                env,
                spec,
                facts,
                head_sha=sha,
                error=error,
                reply_to=args.reply_to,
                keeper=keeper,
                log_path=args.error_log,
            )
        finally:
            keeper.close()
    except (JobSetupError, ForeignModelError) as exc:
        raise UserError(str(exc)) from exc
    for note in keeper.notes:
        print(f"  note: {note}", file=human(args))
    print(
        f"{outcome.model}: {outcome.verdict}, action {outcome.action}, issue {outcome.issue}, "
        f"retrain PR {outcome.retrain_pr}, fired: {', '.join(outcome.fired) or 'none'}",
        file=human(args),
    )
    if args.json:
        write_text(args.json, json.dumps(asdict(outcome), indent=2))
    return 1 if outcome.verdict == "error" else 0


def _head(repo_dir: Path) -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_dir, capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"{repo_dir} is not a git checkout; pass --sha")
    return done.stdout.strip()


def _tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.is_file():
        return ""
    # Posted on the monitoring issue: no credential, no path of the bot host.
    return scrub("\n".join(path.read_text(errors="replace").splitlines()[-lines:]), roots=[str(Path.cwd())])
