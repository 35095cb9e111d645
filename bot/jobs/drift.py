"""The drift job: the scheduled check of a model's production data against its champion.

The reference is read at the git sha the champion was trained on (the caller finds it in the
registry tag `mlops_bot.head_sha`), so a data change merged since then is itself visible as drift.
`monitor` runs the whole check: data quality first (a broken schema stops the drift check), drift,
and the champion's performance on labelled rows. What to do about a finding (issue, retrain PR) is
decided elsewhere (`bot.core.monitoring`) from the facts it returns.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.config import CONFIG_PATH, DriftSpec, ModelSpec, RepoConfig, load_config
from bot.core.drift_values import DriftConfigError, json_safe, summary_to_dict
from bot.core.models import DriftSummary
from bot.core.monitoring import (
    ChampionFacts,
    CheckFacts,
    PerformanceFacts,
    facts_to_dict,
    judge_quality,
    parse_time,
)
from bot.core.monitoring.served import label_note
from bot.core.tags import VersionTags
from bot.jobs.common import evidently_checks
from bot.ports import DriftChecks, ModelRegistry, Predict

if TYPE_CHECKING:
    import pandas as pd

# The registry tag (on the model version, else on its run) naming the commit a model was trained on.
HEAD_SHA_TAG = "mlops_bot.head_sha"


def drift_target(config: RepoConfig, model: str | None) -> tuple[ModelSpec, DriftSpec]:
    """The model to check and its drift section; DriftConfigError saying what to fix otherwise."""
    names = [m.name for m in config.models]
    if not names:
        raise DriftConfigError(f"{CONFIG_PATH} lists no models")
    spec = config.model(model)
    if spec is None:
        if model is None:
            raise DriftConfigError(
                f"{CONFIG_PATH} lists several models ({', '.join(names)}); pass --model NAME"
            )
        raise DriftConfigError(f"no model named {model!r} in {CONFIG_PATH}; known: {', '.join(names)}")
    if spec.drift is None:
        raise DriftConfigError(
            f"model {spec.name!r} has no `drift:` section in {CONFIG_PATH} "
            "(it needs at least `current:` and `reference:` paths)"
        )
    return spec, spec.drift


def read_config(root: Path, config_path: Path | None = None) -> RepoConfig:
    """The repository config from the checkout (on Actions, the default branch is what is checked out)."""
    path = config_path if config_path is not None else root / CONFIG_PATH
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise DriftConfigError(f"no config file at {path}; `mlops-bot init` writes one") from None
    except OSError as exc:
        raise DriftConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return load_config(text, str(path))


def champion_sha(registry: ModelRegistry, model: str, alias: str = "champion") -> str | None:
    """The git sha the model's `alias` version was trained on; None when there is no such version or tag."""
    version = registry.version_by_alias(model, alias)
    if version is None:
        return None
    if sha := version.tags.get(HEAD_SHA_TAG):
        return sha
    run = registry.run(version.run_id) if version.run_id else None
    return run.tags.get(HEAD_SHA_TAG) if run is not None else None


def check(
    root: Path,
    config: RepoConfig,
    *,
    model: str | None,
    reference_rev: str | None,
    out_dir: Path,
    checks: DriftChecks[Any] | None = None,
) -> DriftSummary:
    """Run the drift check for one model; writes out_dir/drift-<model>.html and .json."""
    checks = checks if checks is not None else evidently_checks()
    spec, drift = drift_target(config, model)
    reference = checks.reference(root, drift.reference, reference_rev or "HEAD")
    current, served = checks.current(
        drift, root=root, model=spec.name, now=dt.datetime.now(dt.UTC), label=None
    )
    summary = checks.drift(reference, current, drift, model=spec.name, out_dir=out_dir)
    if served is not None:
        checks.record_check(drift, served, root=root, model=spec.name)
    return summary


# The registry tag (on the champion's model version) saying when it became champion, ISO 8601. Without it,
# the version's creation time counts (registration happens at promotion).
PROMOTED_AT_TAG = VersionTags.PROMOTED_AT


def champion_facts(registry: ModelRegistry, model: str, alias: str = "champion") -> ChampionFacts | None:
    """The champion's version, promotion time and the metrics its run recorded; None when there is none."""
    version = registry.version_by_alias(model, alias)
    if version is None:
        return None
    promoted_at, source = version.tags.get(PROMOTED_AT_TAG, ""), f"tag {PROMOTED_AT_TAG}"
    if not parse_time(promoted_at):
        promoted_at, source = _creation_time(registry, model, version.version), "version created"
    return ChampionFacts(version.version, promoted_at, source if promoted_at else "", dict(version.metrics))


def _creation_time(registry: ModelRegistry, model: str, version: str) -> str:
    """When the version was registered. The port's ModelVersion has no timestamps; MLflow's client does."""
    client = getattr(registry, "client", None)
    if client is None:
        return ""
    stamp = getattr(client.get_model_version(model, version), "creation_timestamp", None)
    if not isinstance(stamp, int):
        return ""
    return dt.datetime.fromtimestamp(stamp / 1000, dt.UTC).isoformat(timespec="seconds")


def load_champion(tracking_uri: str, model: str, alias: str = "champion") -> Predict:
    """The champion as MLflow serves it (`models:/<model>@<alias>`, pyfunc), fed only its input columns."""
    import mlflow
    import mlflow.pyfunc

    from bot.adapters.mlflow.models import global_tracking_uri

    # pyfunc resolves models:/ URIs through the global URIs only: set for the load, then put back as they were.
    with global_tracking_uri(tracking_uri):
        loaded = mlflow.pyfunc.load_model(f"models:/{model}@{alias}")
    schema = loaded.metadata.get_input_schema()
    inputs = schema.input_names() if schema is not None and schema.has_input_names() else None

    def predict(frame: pd.DataFrame) -> Any:
        return loaded.predict(frame[inputs] if inputs else frame)

    return predict


def monitor(
    root: Path,
    config: RepoConfig,
    *,
    model: str | None,
    reference_rev: str | None,
    out_dir: Path,
    champion: ChampionFacts | None = None,
    predict: Predict | None = None,
    unavailable: str = "",
    now: dt.datetime | None = None,
    check_id: str | None = None,
    checks: DriftChecks[Any] | None = None,
) -> CheckFacts:
    """The whole scheduled check of one model: data quality first, then drift (unless the schema is broken)
    and the champion's performance on labelled rows. `predict` is the champion (None: say `unavailable`).
    `checks` reads the data and measures it (Evidently; a test passes a fake)."""
    checks = checks if checks is not None else evidently_checks()
    spec, drift_spec = drift_target(config, model)
    reference = checks.reference(root, drift_spec.reference, reference_rev or "HEAD")
    label = drift_spec.performance.label if drift_spec.performance else None
    checked = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    current, served = checks.current(drift_spec, root=root, model=spec.name, now=checked, label=label)
    quality = checks.quality(reference, current, drift_spec, label=label)
    quality_verdict = judge_quality(quality, drift_spec.quality)
    checked_at = checked.isoformat(timespec="seconds")
    facts = CheckFacts(
        model=spec.name,
        check_id=check_id or uuid.uuid4().hex[:12],
        checked_at=checked_at,
        drift=None,
        quality=quality,
        champion=champion,
        served=served,
    )
    broken = quality_verdict.status == "schema-break"
    if broken:
        facts = replace(facts, drift_skipped="the data's schema is broken: " + quality_verdict.problems[0])
    else:
        # The label is what the model predicts, not an input whose distribution is compared.
        summary = checks.drift(
            reference,
            current,
            drift_spec,
            model=spec.name,
            out_dir=out_dir,
            leave_out=[c for c in (label,) if c is not None],
        )
        facts = replace(facts, drift=summary)
    if drift_spec.performance is not None:
        performance = (
            PerformanceFacts(
                "unavailable",
                drift_spec.performance.label,
                checks.rows(current),
                note="the data's schema is broken",
            )
            if broken
            else checks.performance(current, drift_spec.performance, predict, unavailable=unavailable)
        )
        if served is not None:  # how many labels came back, and how many could not count
            note = "; ".join(n for n in (performance.note, label_note(served)) if n)
            performance = replace(performance, note=note)
        facts = replace(facts, performance=performance)
    if served is not None:
        checks.record_check(
            drift_spec, served, root=root, model=spec.name
        )  # since-last-check starts here next
    return facts


def skipped_summary(facts: CheckFacts, reference_rows: int = 0) -> DriftSummary:
    """The drift keys of the JSON summary when drift was not judged: no drift, no columns."""
    return DriftSummary(
        model=facts.model,
        dataset_drift=False,
        share_drifted=0.0,
        drift_share=0.0,
        columns=(),
        reference_rows=reference_rows,
        current_rows=facts.quality.rows if facts.quality else 0,
        reference_sampled=0,
        current_sampled=0,
    )


def check_json(facts: CheckFacts) -> str:
    """The JSON summary: the drift summary's keys (as before) plus the quality/performance/champion facts."""
    summary = facts.drift if facts.drift is not None else skipped_summary(facts)
    data = {**summary_to_dict(summary), **facts_to_dict(facts)}
    return json.dumps(json_safe(data), indent=2, sort_keys=True) + "\n"


def write_check(facts: CheckFacts, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(check_json(facts))
