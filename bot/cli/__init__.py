"""The `mlops-bot` command. Each subcommand lives in its own module with `register(subparsers)`;
heavy SDKs are imported inside the command functions, so `mlops-bot --help` stays light."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from bot import __version__
from bot.cli.errors import bound_mlflow_http, describe
from bot.logs import ENV_CONTEXT, STEP_LOG_ENV, configure

# One module per subcommand, in the order `--help` lists them.
COMMAND_MODULES = (
    "bot.cli.demo",
    "bot.cli.serve",
    "bot.cli.worker",
    "bot.cli.deliveries",
    "bot.cli.db",
    "bot.cli.train",
    "bot.cli.card",
    "bot.cli.promote",
    "bot.cli.canary",
    "bot.cli.rollback",
    "bot.cli.reconcile",
    "bot.cli.drift",
    "bot.cli.drift_report",
    "bot.cli.config",
    "bot.cli.init",
    "bot.cli.app_manifest",
    "bot.cli.actions_summary",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-bot",
        description="Make a GitHub repository the control plane of your ML models.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-bot {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an outside failure")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    bound_mlflow_http()
    if os.environ.get(ENV_CONTEXT["delivery"]):  # a job step of the local executor: the bot's log format
        configure("info")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mlops-bot ... | head`
        sys.stderr.close()
        return 0
    except UserError as exc:
        print(f"mlops-bot {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # An outside failure (MLflow, GitHub, DVC, the database) is one line that says what to do; anything
        # else is a bug, and its traceback is worth seeing.
        message = describe(exc)
        if message is None or args.debug:
            raise
        print(f"mlops-bot {args.command}: {message} (--debug shows the traceback)", file=sys.stderr)
        return 2
    finally:
        if os.environ.get(STEP_LOG_ENV):  # a job step of the local executor: keep its log for a reader
            _keep_step_log(args)


def _keep_step_log(args: argparse.Namespace) -> None:
    """Keep this step's log where its reply linked it (bot/jobs/job_reports.py); never fail the step for it."""
    outcome = getattr(args, "json", None)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        from bot.jobs.job_reports import keep_step_log

        for note in keep_step_log(
            args.command, outcome if outcome is not None and str(outcome) != "-" else None
        ):
            print(f"  note: {note}", file=sys.stderr)
    except Exception as exc:
        print(f"  note: the job log was not kept ({type(exc).__name__})", file=sys.stderr)


def add_github_job_options(p: argparse.ArgumentParser, *, json_output: bool = True) -> None:
    """Options every command that acts on GitHub shares (`card`, `promote`, `rollback`, `reconcile`, ...).
    The rules always come from the default branch's .github/mlops-bot.yml through the API; there is no
    option to read them from a file."""
    p.add_argument("--repo", help="owner/name (default: $GITHUB_REPOSITORY)")
    # No config option: the rules are always the default branch's .github/mlops-bot.yml, read through the
    # API, so a job can never be handed a pull request checkout's file.
    if json_output:
        from bot.cli.output import add_json_option

        add_json_option(p, "the outcome")


class UserError(Exception):
    """Something the user can fix (a missing file, a bad flag value); printed without a traceback."""
