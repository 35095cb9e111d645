"""`mlops-bot drift`: compare production data with the champion's training data (Evidently).

Exit 0 when the check ran, whether or not it found drift (the JSON summary says which);
exit 2 with a message when the data or the config cannot be used.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.core.models import DriftSummary


def register(sub: Any) -> None:
    p = sub.add_parser(
        "drift",
        help="check production data for drift against the champion's training data",
        description=(
            "Compare the model's current data (drift.current in the config) with its training data "
            "(drift.reference, read at the champion's git sha through DVC); write an HTML report and a "
            "JSON summary. Exit 0 when the check ran (drift or not), 2 on bad data or config."
        ),
    )
    p.add_argument("--model", help="model name from the config (optional when it lists one model)")
    p.add_argument("--config", type=Path, help="config file (default: <repo-dir>/.github/mlops-bot.yml)")
    p.add_argument("--repo-dir", type=Path, default=Path("."), help="the DVC/git repository (default: .)")
    p.add_argument(
        "--out", type=Path, default=Path("drift-report"), help="folder for the report (default: drift-report)"
    )
    p.add_argument(
        "--reference-rev",
        metavar="SHA",
        help="git revision of the training data (default: the champion's mlops_bot.head_sha in MLflow when "
        "MLFLOW_TRACKING_URI is set, else HEAD)",
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the JSON summary to this file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.adapters.evidently import DriftError, write_summary
    from bot.cli import UserError
    from bot.core.config import ConfigError
    from bot.jobs.drift import check, drift_target, read_config

    root: Path = args.repo_dir
    try:
        config = read_config(root, args.config)
        spec, _ = drift_target(config, args.model)
        rev, note = args.reference_rev, ""
        if rev is None:
            rev, note = champion_rev(spec.name, config.aliases.champion)
        summary = check(root, config, model=spec.name, reference_rev=rev, out_dir=args.out)
    except (DriftError, ConfigError) as exc:
        raise UserError(str(exc)) from exc
    if args.json is not None:
        write_summary(summary, args.json)
    print(verdict(summary, reference_rev=rev or "HEAD"))
    if note:
        print(f"  note: {note}")
    sys.stdout.flush()
    return 0


def champion_rev(model: str, alias: str) -> tuple[str | None, str]:
    """The champion's training sha from the registry, when one is configured; else (None, why not).

    Only an explicitly set tracking URI counts: the settings' sqlite default would create an empty
    database in the current folder and find nothing.
    """
    uri = os.environ.get("MLOPS_BOT_MLFLOW_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return None, "no --reference-rev and no MLflow tracking URI: reference read at HEAD"
    from bot.adapters.mlflow import MlflowRegistry
    from bot.jobs.drift import HEAD_SHA_TAG, champion_sha

    try:
        sha = champion_sha(MlflowRegistry(uri), model, alias)
    except Exception as exc:  # a registry fault should not stop the check; it is reported instead
        return (
            None,
            f"could not ask MLflow for {model}@{alias} ({type(exc).__name__}): reference read at HEAD",
        )
    if sha is None:
        return None, f"{model}@{alias} has no {HEAD_SHA_TAG} tag in MLflow: reference read at HEAD"
    return sha, ""


def verdict(summary: DriftSummary, *, reference_rev: str) -> str:
    """A few lines for a terminal or a job log."""
    drifted = summary.drifted_columns
    total = len(summary.columns)
    state = "DATASET DRIFT" if summary.dataset_drift else "no dataset drift"
    relation = ">=" if summary.dataset_drift else "<"
    lines = [
        f"{summary.model}: {state}: {len(drifted)} of {total} columns drifted "
        f"({summary.share_drifted:.0%} {relation} drift_share {summary.drift_share:.0%})",
    ]
    if drifted:
        lines.append("  drifted: " + ", ".join(drifted))
    lines.append(
        f"  reference: {_rows(summary.reference_rows, summary.reference_sampled)} at {reference_rev}; "
        f"current: {_rows(summary.current_rows, summary.current_sampled)}"
    )
    if summary.report_path:
        lines.append(f"  report: {summary.report_path}")
    return "\n".join(lines)


def _rows(total: int, sampled: int) -> str:
    return f"{total:,} rows" if sampled >= total else f"{total:,} rows (sampled {sampled:,})"
