"""`mlops-bot actions-summary`: the last step of each mlops-bot action. Reads the JSON its command wrote
and sets the action's outputs (`$GITHUB_OUTPUT`) and the run page's summary (`$GITHUB_STEP_SUMMARY`).

A missing or unreadable file is not an error here: the step that should have written it already failed
and said why; the outputs are then the empty / failure values the actions document."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "actions-summary",
        help="set a GitHub Actions step's outputs and summary from a command's --json (the actions' last step)",
        description=(
            "Read the JSON `mlops-bot train|promote|drift --json` wrote and write the action's outputs to "
            "$GITHUB_OUTPUT and a summary to $GITHUB_STEP_SUMMARY (both only when set, as on a runner)."
        ),
    )
    p.add_argument("kind", choices=("train", "promote", "drift"), help="which action's results")
    p.add_argument("--results", type=Path, required=True, help="the JSON the command wrote")
    p.add_argument("--report", type=Path, help="drift: the JSON `mlops-bot drift-report --json` wrote")
    p.add_argument("--card-url", default="", help="train: the model card comment's URL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.adapters.actions_runner import ActionsRunner
    from bot.core.actions_summary import drift_summary, promote_summary, train_summary

    data = _read(args.results)
    if args.kind == "train":
        summary = train_summary(data, card_url=args.card_url)
    elif args.kind == "promote":
        env = os.environ
        summary = promote_summary(
            data, api_url=env.get("GITHUB_API_URL", ""), repo=env.get("GITHUB_REPOSITORY", "")
        )
    else:
        summary = drift_summary(data, _read(args.report) if args.report else None)
    runner = ActionsRunner(os.environ)
    outputs = {**summary.outputs, "results": str(args.results) if args.results.is_file() else ""}
    for name, value in outputs.items():
        runner.set_output(name, value)
        print(f"{name}={value}")
    runner.append_summary(summary.markdown)
    return 0


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
