"""After a PR training: the champion re-scored on the candidate's evaluation data, on the same rows.

The comparison is logged to the candidate's run (`champion.<metric>` metrics and the whole comparison as
`mlops-bot/same_data.json`), so the verdict on the card can be reproduced from MLflow alone. Whatever goes
wrong here is the comparison's `error`, shown on the card: it never fails the training.
"""

from __future__ import annotations

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
    registry: MlflowRegistry, run: RunRecord, *, champion_version: str | None = None
) -> SameDataComparison | None:
    """The comparison a training logged to `run` (for `/card` without training again, and the promotion);
    None when it logged none, or when it compared with another champion than `champion_version`."""
    try:
        data = registry.read_json(run.run_id, SAME_DATA_ARTIFACT)
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
