"""`mlops-bot demo`: the whole loop on one machine: PR -> card -> merge -> promote -> serve -> traffic and
labels -> check -> issue -> retrain PR -> card -> merge -> serve."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

STAGES = ("help", "train", "promote", "drift", "monitor", "retrain")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="run the whole loop locally against a GitHub stand-in (no account needed)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("demo-out"),
        help="where transcript.md, summary.json and the demo's state go (default: ./demo-out)",
    )
    p.add_argument(
        "--until",
        choices=STAGES,
        default="retrain",
        help="stop after this stage (help, train, promote, drift, monitor, retrain; default: all)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.demo import DemoError, run_demo

    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    stages = STAGES[: STAGES.index(args.until) + 1]
    try:
        run_demo(args.out, progress, stages)
    except DemoError as exc:
        print(f"mlops-bot demo: {exc}", file=sys.stderr)
        return 1
    progress(f"done: read {args.out / 'transcript.md'} and {args.out / 'summary.json'}")
    return 0
