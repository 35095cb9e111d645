"""`mlops-bot drift`: the scheduled check of production data against the champion.

Data quality first (schema, empty values, ranges, repeated rows against the champion's training data),
then drift (Evidently) unless the schema is broken, then the champion's performance on labelled rows,
and the facts the retrain schedule needs. Exit 0 when the check ran, whatever it found (the JSON summary
says what); exit 2 with a message when the data cannot be read or the config cannot be used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.output import add_json_option, human, write_text

if TYPE_CHECKING:
    from bot.adapters.evidently import Predict
    from bot.core.config import RepoConfig
    from bot.core.models import DriftSummary
    from bot.core.monitoring import ChampionFacts, CheckFacts


def register(sub: Any) -> None:
    p = sub.add_parser(
        "drift",
        help="check production data (quality, drift, performance) against the champion",
        description=(
            "Check the model's current data (drift.current in the config) against its training data "
            "(drift.reference, read at the champion's git sha through DVC): data quality, then drift with "
            "Evidently, then the champion's performance when the data carries labels; write an HTML report "
            "and a JSON summary. Exit 0 when the check ran (whatever it found), 2 on unreadable data or bad "
            "config."
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
    add_json_option(p, "the check's summary (also written to --out)")
    p.add_argument(
        "--now",
        type=_utc_time,
        metavar="ISO-TIME",
        help="the check's time, for the retrain schedule (default: the current time); for rehearsals and tests",
    )
    p.set_defaults(func=run)


def _utc_time(text: str) -> dt.datetime:
    from bot.core.monitoring import parse_time

    parsed = parse_time(text)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time, e.g. 2025-01-31T12:00:00Z")
    return parsed


def run(args: argparse.Namespace) -> int:
    from bot.adapters.evidently import DriftError
    from bot.cli import UserError
    from bot.core.config import ConfigError
    from bot.jobs.drift import check_json, drift_target, monitor, read_config, write_check

    root: Path = args.repo_dir
    try:
        config = read_config(root, args.config)
        spec, drift_spec = drift_target(config, args.model)
        alias = config.aliases.champion
        registry, registry_note = _registry()
        rev, note = args.reference_rev, ""
        if rev is None:
            rev, note = champion_rev(spec.name, alias, registry, registry_note)
        champion, predict, unavailable = _champion(
            spec.name, alias, registry, registry_note, scoring=drift_spec.performance is not None
        )
        facts = monitor(
            root,
            config,
            model=spec.name,
            reference_rev=rev,
            out_dir=args.out,
            champion=champion,
            predict=predict,
            unavailable=unavailable,
            now=args.now,
        )
    except (DriftError, ConfigError) as exc:
        raise UserError(str(exc)) from exc
    write_check(facts, args.out / f"drift-{spec.name}.json")
    if args.json is not None:
        write_text(args.json, check_json(facts))
    print(report_lines(facts, reference_rev=rev or "HEAD", config=config), file=human(args))
    if note:
        print(f"  note: {note}", file=human(args))
    sys.stdout.flush()
    return 0


def _registry() -> tuple[Any, str]:
    """The MLflow registry when a tracking URI is set explicitly, else (None, why not).

    Only an explicitly set tracking URI counts: the settings' sqlite default would create an empty
    database in the current folder and find nothing.
    """
    uri = os.environ.get("MLOPS_BOT_MLFLOW_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return None, "no MLflow tracking URI"
    from bot.adapters.mlflow import MlflowRegistry

    # Scoped to this repository: another repository's model of the same name is refused, not read.
    return MlflowRegistry(uri, repository=os.environ.get("GITHUB_REPOSITORY") or None), ""


def champion_rev(model: str, alias: str, registry: Any = None, why_not: str = "") -> tuple[str | None, str]:
    """The champion's training sha from the registry, when one is configured; else (None, why not)."""
    from bot.jobs.drift import HEAD_SHA_TAG, champion_sha

    if registry is None:
        return None, f"no --reference-rev and {why_not or 'no MLflow tracking URI'}: reference read at HEAD"
    try:
        sha = champion_sha(registry, model, alias)
    except Exception as exc:  # a registry fault should not stop the check; it is reported instead
        return (
            None,
            f"could not ask MLflow for {model}@{alias} ({type(exc).__name__}): reference read at HEAD",
        )
    if sha is None:
        return None, f"{model}@{alias} has no {HEAD_SHA_TAG} tag in MLflow: reference read at HEAD"
    return sha, ""


def _champion(
    model: str, alias: str, registry: Any, why_not: str, *, scoring: bool
) -> tuple[ChampionFacts | None, Predict | None, str]:
    """(facts, predictor, why no predictor) of the champion. Registry faults become notes, not failures."""
    from bot.jobs.drift import champion_facts, load_champion

    if registry is None:
        return None, None, why_not
    try:
        facts = champion_facts(registry, model, alias)
    except Exception as exc:
        return None, None, f"could not ask MLflow for {model}@{alias} ({type(exc).__name__})"
    if facts is None:
        return None, None, f"no {model}@{alias} in the MLflow registry"
    if not scoring:
        return facts, None, ""
    loaded: list[Predict] = []

    def predict(frame: Any) -> Any:
        # Loaded on first use: a batch without labels (the usual case) never pays for loading the model.
        if not loaded:
            try:
                loaded.append(load_champion(registry.tracking_uri, model, alias))
            except Exception as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise RuntimeError(f"could not load {model}@{alias} from MLflow: {reason[:300]}") from exc
        return loaded[0](frame)

    return facts, predict, ""


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


def report_lines(facts: CheckFacts, *, reference_rev: str, config: RepoConfig) -> str:
    """The drift verdict as before, then one line per other check (before any hysteresis)."""
    from bot.core.monitoring import judge_performance, judge_quality, judge_schedule

    spec = config.model(facts.model)
    assert spec is not None and spec.drift is not None
    drift_spec = spec.drift
    if facts.drift is not None:
        lines = [verdict(facts.drift, reference_rev=reference_rev)]
    else:
        lines = [f"{facts.model}: drift not judged: {facts.drift_skipped}"]
    quality = judge_quality(facts.quality, drift_spec.quality)
    lines.append(
        f"  quality: {quality.status}" + (": " + "; ".join(quality.problems) if quality.problems else "")
    )
    performance = judge_performance(facts.performance, drift_spec.performance, facts.champion)
    if performance.status != "off":
        detail = "; ".join(line.text for line in performance.lines) or performance.note
        lines.append(f"  performance: {performance.status}" + (f": {detail}" if detail else ""))
    now = _parse(facts.checked_at)
    schedule = judge_schedule(drift_spec.retrain.schedule, facts.champion, now)
    if schedule.status != "off":
        lines.append(f"  schedule: {schedule.status}" + (f": {schedule.text}" if schedule.text else ""))
    return "\n".join(lines)


def _parse(value: str) -> dt.datetime:
    from bot.core.monitoring import parse_time

    return parse_time(value) or dt.datetime.now(dt.UTC)
