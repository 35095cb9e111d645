"""After a PR training: the champion re-scored on the candidate's evaluation data, on the same rows.

The comparison is logged to the candidate's run (`champion.<metric>` metrics and the whole comparison as
`mlops-bot/same_data.json`), so the verdict on the card can be reproduced from MLflow alone. Whatever goes
wrong here is the comparison's `error`, shown on the card: it never fails the training.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bot.core.config import ModelSpec, RepoConfig
from bot.core.evaluation import (
    SameDataComparison,
    comparison_from_dict,
    comparison_to_dict,
    failed_comparison,
)
from bot.core.models import ModelVersion, RunRecord

if TYPE_CHECKING:
    from bot.adapters.mlflow import MlflowRegistry

SAME_DATA_ARTIFACT = "mlops-bot/same_data.json"
PRODUCTION_ARTIFACT = "mlops-bot/production.json"


def compare_with_champion(
    root: Path,
    spec: ModelSpec,
    config: RepoConfig,
    registry: MlflowRegistry,
    run: RunRecord,
    *,
    echo: IO[str] | None = None,
) -> SameDataComparison | None:
    """The same-data comparison of `run`'s model with the champion; None without `evaluation:` or without a
    champion (a first model has nothing to be compared with)."""
    if spec.evaluation is None:
        return None
    alias = config.aliases.champion
    try:
        champion = registry.version_by_alias(spec.name, alias)
    except Exception as exc:
        return failed_comparison(spec.evaluation.data, f"the {alias} could not be looked up: {exc}")
    if champion is None:
        return None
    try:
        from bot.jobs.evaluation.same_data import same_data_comparison

        comparison = same_data_comparison(
            root,
            spec,
            candidate_uri=run.model_uri or f"runs:/{run.run_id}/model",
            champion_uri=f"models:/{spec.name}@{alias}",
            champion_version=champion.version,
            tracking_uri=registry.tracking_uri,
        )
    except Exception as exc:  # a fault of ours or of a model must not fail the training that succeeded
        comparison = failed_comparison(
            spec.evaluation.data, f"the comparison failed: {type(exc).__name__}: {exc}", champion.version
        )
    _record(registry, run, comparison, echo)
    return comparison


def compare_on_production(
    root: Path,
    spec: ModelSpec,
    config: RepoConfig,
    registry: MlflowRegistry,
    run: RunRecord,
    *,
    base_rev: str = "",
    echo: IO[str] | None = None,
) -> SameDataComparison | None:
    """Both models on the labelled production rows the drift check reads (`drift.current` holding
    `drift.performance.label`): what a retrain PR is for, "champion 0.660 -> candidate 0.93 on last week's
    production data". The rows are the base commit's (`base_rev`: the default branch the check read, which a
    retrain branch opened before the labels came may lack), else the checkout's. None when the monitoring
    config has no label, or no such file holds `performance.min_rows` labelled rows."""
    drift = spec.drift
    performance = drift.performance if drift is not None else None
    if drift is None or performance is None:
        return None
    alias = config.aliases.champion
    champion = registry.version_by_alias(spec.name, alias)
    if champion is None or champion.run_id == run.run_id:
        return None
    from bot.core.config.evaluation import SCORE_DIRECTIONS, EvaluationMetric, EvaluationSpec

    scorable = [m for m in performance.metrics if m.scorer in SCORE_DIRECTIONS]
    if not scorable:
        return None
    evaluation = spec.evaluation
    try:
        on_production = EvaluationSpec(
            data=drift.current,
            label=performance.label,
            features=evaluation.features if evaluation else None,
            metrics=[EvaluationMetric(name=m.name, score=m.scorer) for m in scorable],
            resamples=evaluation.resamples if evaluation else 1000,
            seed=evaluation.seed if evaluation else 0,
        )
    except ValueError:  # a monitoring config this comparison cannot express: no table, never a failure
        return None
    with tempfile.TemporaryDirectory(prefix="mlops-bot-production-") as scratch:
        if drift.served:
            found = _served_rows(root, spec, performance.label, performance.min_rows, Path(scratch))
        else:
            found = _production_rows(
                root, drift.current, performance.label, performance.min_rows, base_rev, Path(scratch)
            )
        if found is None:
            return None
        where, shown = found
        if drift.served:
            on_production = on_production.model_copy(update={"data": SERVED_ROWS})
        try:
            from bot.jobs.evaluation.same_data import same_data_comparison

            comparison = same_data_comparison(
                where,
                spec.model_copy(update={"evaluation": on_production}),
                candidate_uri=run.model_uri or f"runs:/{run.run_id}/model",
                champion_uri=f"models:/{spec.name}@{alias}",
                champion_version=champion.version,
                tracking_uri=registry.tracking_uri,
            )
        except Exception as exc:  # never fails the training
            comparison = failed_comparison(drift.current, f"the comparison failed: {exc}", champion.version)
    comparison = dataclasses.replace(comparison, data=shown)
    try:
        registry.log_json(run.run_id, PRODUCTION_ARTIFACT, comparison_to_dict(comparison))
    except Exception as exc:
        if echo is not None:
            echo.write(f"mlops-bot train: the production comparison could not be logged to MLflow: {exc}\n")
    return comparison


def _production_rows(
    root: Path, path: str, label: str, at_least: int, base_rev: str, scratch: Path
) -> tuple[Path, str] | None:
    """(a root holding `path`, how the card names the rows): the base commit's file when it is labelled,
    else the checkout's; None when neither is."""
    if base_rev and path.endswith(".csv"):
        from bot.adapters.dvc import DvcError, run_git

        try:
            text = run_git(root, "show", f"{base_rev}:{path}")
        except DvcError:  # not in git there (DVC-tracked, or added since): the checkout's, if any
            text = ""
        if text:
            copy = scratch / path
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(text, encoding="utf-8")
            if _labelled_rows(copy, label, at_least):
                return scratch, f"{path} at {base_rev[:12]}"
    if (root / path).is_file() and _labelled_rows(root / path, label, at_least):
        return root, path
    return None


# Where the served rows with a label are written for the comparison, inside its scratch folder.
SERVED_ROWS = "served-labelled.parquet"


def _served_rows(
    root: Path, spec: ModelSpec, label: str, at_least: int, scratch: Path
) -> tuple[Path, str] | None:
    """The rows the service answered in the last week (`drift.window` when it is a fixed one) whose label
    came back, written to the scratch folder; None when fewer than `at_least` are labelled or the log cannot
    be read (then there is no table, never a failed training). A PR's scoring is no check: it records none,
    so `since-last-check` does not move."""
    import datetime as dt

    from bot.adapters.evidently.errors import DriftDataError
    from bot.adapters.evidently.served import served_current
    from bot.core.config.traffic import LastWindow
    from bot.core.monitoring.served import FIRST_WINDOW

    drift = spec.drift
    assert drift is not None
    window = drift.window if isinstance(drift.window, LastWindow) else FIRST_WINDOW
    try:
        rows, facts = served_current(
            drift.traffic, window, root=root, model=spec.name, now=dt.datetime.now(dt.UTC), label=label
        )
    except DriftDataError:
        return None
    labelled = rows[rows[label].notna()].reset_index(drop=True)
    if len(labelled) < at_least:
        return None
    labelled.to_parquet(scratch / SERVED_ROWS, index=False)
    return scratch, f"served traffic, {facts.window}"


def _labelled_rows(path: Path, label: str, at_least: int) -> bool:
    """Whether the file has a `label` column with at least `at_least` values (header and that column only)."""
    import pandas as pd

    try:
        if path.suffix == ".parquet":
            column = pd.read_parquet(path, columns=[label])[label]
        else:
            header = pd.read_csv(path, nrows=0).columns
            if label not in header:
                return False
            column = pd.read_csv(path, usecols=[label])[label]
    except Exception:  # unreadable or no such column: there is nothing to score on
        return False
    return int(column.notna().sum()) >= at_least


def _record(
    registry: MlflowRegistry, run: RunRecord, comparison: SameDataComparison, echo: IO[str] | None
) -> None:
    try:
        registry.log_metrics(run.run_id, comparison.champion_metrics())
        registry.log_json(run.run_id, SAME_DATA_ARTIFACT, comparison_to_dict(comparison))
    except Exception as exc:  # the card still shows the comparison; only its record in MLflow is missing
        if echo is not None:
            echo.write(f"mlops-bot train: the same-data comparison could not be logged to MLflow: {exc}\n")
            echo.flush()


def recorded_comparison(
    registry: MlflowRegistry,
    run: RunRecord,
    *,
    champion_version: str | None = None,
    artifact: str = SAME_DATA_ARTIFACT,
) -> SameDataComparison | None:
    """The comparison a training logged to `run` (for `/card` without training again, and the promotion);
    None when it logged none, or when it compared with another champion than `champion_version`."""
    try:
        data = registry.read_json(run.run_id, artifact)
        comparison = comparison_from_dict(data) if data is not None else None
    except Exception:  # an unreadable record is no comparison; the gates then say what they judged instead
        return None
    if comparison is None or (
        champion_version is not None and comparison.champion_version != champion_version
    ):
        return None
    return comparison


def promotion_comparison(
    registry: MlflowRegistry, spec: ModelSpec, run: RunRecord, champion: ModelVersion | None
) -> SameDataComparison | None:
    """What the promotion gates judge a candidate by, besides its recorded metrics: the comparison its PR
    training made with the champion that is still the champion (None when the champion moved since)."""
    if spec.evaluation is None or champion is None or champion.run_id == run.run_id:
        return None
    return recorded_comparison(registry, run, champion_version=champion.version)
