"""The canary and the champion compared on the same live requests, once their labels came back.

Both models scored every request of the canary service (one answered, the other as its shadow), so the
comparison is paired on identical rows. It is the card's same-data comparison as is
(`bot.jobs.evaluation.same_data.same_data_comparison`, the paired bootstrap): the labelled requests are its
data, and each model "predicts" by replaying what it answered live (looked up by request id), so nothing is
re-scored and what is compared is what the service did.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.adapters import traffic_log as layout
from bot.adapters.canary_traffic import CanaryTrafficError, PairedRequests, paired_requests
from bot.adapters.mlflow.scoring import ScoringModel
from bot.core.canary import CANARY_ALIAS, CanaryTags, render_live_comparison, running_canary
from bot.core.config import ModelSpec
from bot.core.config.evaluation import EvaluationMetric, EvaluationSpec
from bot.core.evaluation import SameDataComparison, failed_comparison
from bot.core.markers import drift_marker
from bot.core.tags import VersionTags
from bot.jobs.common import JobEnv
from bot.jobs.evaluation.same_data import same_data_comparison
from bot.jobs.promote import reply_keyed

LIVE_DATA = "canary-live-requests.parquet"  # the name the comparison's data goes by (the card shows it)
_CANDIDATE, _CHAMPION = "replay:canary", "replay:champion"


@dataclass
class CanaryComparison:
    model: str
    status: str  # compared | waiting (no labels yet) | no-canary | unreadable
    version: str = ""  # the canary
    champion: str = ""
    requests: int = 0  # scored by both
    labelled: int = 0
    answered_on: int | None = None  # the PR or issue the comparison was posted on
    comparison: SameDataComparison | None = None
    reasons: list[str] = field(default_factory=list)


def compare_canary(env: JobEnv, root: Path, *, model: str, reply_to: int | None = None) -> CanaryComparison:
    """The running canary of `model` and its champion on the live requests both scored, posted as one comment
    (keyed by model and canary version, edited at each check) on `reply_to`, else on the pull request the
    candidate came from, else on the model's drift issue. Nothing runs: nothing is posted."""
    spec = env.config.model(model)
    assert spec is not None  # JobEnv.models() validated the name
    running = running_canary(env.registry.version_by_alias(model, CANARY_ALIAS))
    if running is None:
        return CanaryComparison(model, "no-canary")
    champion = running.tags.get(CanaryTags.CHAMPION, "")
    traffic = spec.drift.traffic if spec.drift is not None else None
    if traffic is None:
        why = "the model has no `drift:` section, so no traffic log is named (drift.traffic.location)"
        return CanaryComparison(model, "unreadable", running.version, champion, reasons=[why])
    location = traffic.location if "://" in traffic.location else str(root / traffic.location)
    try:
        paired = paired_requests(location, champion_version=champion, canary_version=running.version)
    except CanaryTrafficError as exc:
        return CanaryComparison(model, "unreadable", running.version, champion, reasons=[str(exc)])
    comparison = (
        live_comparison(spec, paired, champion_version=champion, canary_version=running.version)
        if len(paired.rows)
        else None
    )
    body = render_live_comparison(
        model,
        canary_version=running.version,
        champion_version=champion,
        answered=paired.answered,
        comparison=comparison,
    )
    where = reply_to or _pull_of(running.tags) or _drift_issue(env, model)
    reply_keyed(env, where, body, ("canary-compare", f"{model}@{running.version}"))
    status = "compared" if comparison is not None and comparison.ok else "waiting"
    reasons = [comparison.error] if comparison is not None and not comparison.ok else []
    return CanaryComparison(
        model,
        status,
        running.version,
        champion,
        requests=len(paired.rows),
        labelled=paired.labelled,
        answered_on=where,
        comparison=comparison,
        reasons=reasons,
    )


def _pull_of(tags: dict[str, str]) -> int | None:
    text = tags.get(VersionTags.PR, "")
    return int(text) if text.isdigit() else None


def _drift_issue(env: JobEnv, model: str) -> int | None:
    issue = env.gh.find_issue(drift_marker(model))
    return issue.number if issue is not None and issue.state == "open" else None


def live_evaluation(spec: ModelSpec) -> EvaluationSpec | None:
    """How to compare on live rows: the model's `evaluation:` (its metrics, slices, bootstrap), else the
    scores of `drift.performance`; None when the config names no label to score by."""
    if spec.evaluation is not None:
        return spec.evaluation.model_copy(update={"data": LIVE_DATA, "features": None})
    performance = spec.drift.performance if spec.drift is not None else None
    if performance is None:
        return None
    metrics = [EvaluationMetric(name=m.name, score=m.score) for m in performance.metrics]
    return EvaluationSpec(data=LIVE_DATA, label=performance.label, metrics=metrics)


def live_comparison(
    spec: ModelSpec, paired: PairedRequests, *, champion_version: str, canary_version: str
) -> SameDataComparison:
    """Both versions on the labelled requests both scored; an error line when there is nothing to compare."""
    evaluation = live_evaluation(spec)
    if evaluation is None:
        return failed_comparison(
            LIVE_DATA,
            "no label to score the live requests by: give the model `evaluation:` or `drift.performance:`",
            champion_version,
        )
    labelled = paired.rows[paired.rows[layout.LABEL].notna()]
    if labelled.empty:
        return failed_comparison(
            LIVE_DATA,
            f"no labels came back yet for the {len(paired.rows):,} request(s) both versions scored "
            "(`POST /feedback` or a label file)",
            champion_version,
        )
    keep = [layout.REQUEST_ID, *(c for c in evaluation.slices if c in labelled.columns)]
    data = labelled[keep].assign(**{evaluation.label: labelled[layout.LABEL].to_numpy()})
    position = {rid: i for i, rid in enumerate(paired.rows[layout.REQUEST_ID])}
    replays = {
        _CHAMPION: _replay(paired.outputs[champion_version], position, data[evaluation.label]),
        _CANDIDATE: _replay(paired.outputs[canary_version], position, data[evaluation.label]),
    }
    with tempfile.TemporaryDirectory(prefix="mlops-bot-canary-") as scratch:
        root = Path(scratch)
        data.to_parquet(root / LIVE_DATA, index=False)
        return same_data_comparison(
            root,
            spec.model_copy(update={"evaluation": evaluation}),
            candidate_uri=_CANDIDATE,
            champion_uri=_CHAMPION,
            champion_version=champion_version,
            load=lambda uri: replays[uri],
        )


def _replay(outputs: Any, position: dict[str, int], labels: Any) -> ScoringModel:
    """A model that answers each request with what it answered live (its shadow's answer included)."""
    proba_columns = [c for c in outputs.columns if str(c).startswith(layout.PROBA_PREFIX)]
    classes = tuple(_class_value(str(c)[len(layout.PROBA_PREFIX) :], labels) for c in proba_columns)

    def rows_of(frame: Any) -> list[int]:
        return [position[str(r)] for r in frame[layout.REQUEST_ID]]

    def predict(frame: Any) -> Any:
        return outputs[layout.PREDICTION].to_numpy()[rows_of(frame)]

    def predict_proba(frame: Any) -> Any:
        return outputs[proba_columns].to_numpy(dtype=float)[rows_of(frame)]

    return ScoringModel(
        uri="replay",
        flavor="replay",
        inputs=(layout.REQUEST_ID,),
        classes=classes or None,
        predict=predict,
        predict_proba=predict_proba
        if proba_columns and not outputs[proba_columns].isna().any().any()
        else None,
    )


def _class_value(text: str, labels: Any) -> Any:
    """A class as the labels spell it (`proba_1` is class 1 when the labels are numbers)."""
    for value in np.unique(labels.dropna().to_numpy()):
        if str(value) == text or (isinstance(value, int | float | np.number) and _same_number(text, value)):
            return value.item() if hasattr(value, "item") else value
    return text


def _same_number(text: str, value: Any) -> bool:
    try:
        return float(text) == float(value)
    except ValueError:
        return False
