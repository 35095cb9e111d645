"""Drift checks with Evidently 0.7 (new API), the data-quality and performance facts, and the tables they read.

`run_drift` compares two DataFrames column by column and flattens Evidently's snapshot into a
`DriftSummary`; `load_table` / `reference_at` read CSV or Parquet from the workspace or through DVC.
Every problem a user can cause with their data surfaces as a `DriftDataError` naming the file,
the column and what was wrong; a bad drift section of the config surfaces as a `DriftConfigError`.
pandas, evidently and dvc are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import glob as globbing
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.config import DriftSpec, PerformanceSpec
from bot.core.models import ColumnDrift, DriftSummary
from bot.core.monitoring import ColumnQuality, MetricScore, PerformanceFacts, QualityFacts

if TYPE_CHECKING:
    import pandas as pd

# A label column is what the model predicts, not an input whose distribution matters for drift;
# it is left out unless the config names it.
TARGET_COLUMN = "target"

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


class DriftError(Exception):
    """A drift check that cannot run because of something the user can fix."""


class DriftDataError(DriftError):
    """The reference or current data cannot be compared: the message says which file/column and why."""


class DriftConfigError(DriftError):
    """The drift section of the config cannot be used (unknown model, unknown method, ...)."""


# --------------------------------------------------------------------------------------------------
# Column selection: decisions on dtypes, no Evidently involved.


def select_columns(
    reference: pd.DataFrame, current: pd.DataFrame, spec: DriftSpec
) -> tuple[list[str], list[str]]:
    """(numerical, categorical) columns to compare; raises DriftDataError when the tables disagree."""
    import pandas as pd

    _require_rows(reference, "reference")
    _require_rows(current, "current")
    declared_num = list(spec.numerical_columns or [])
    declared_cat = list(spec.categorical_columns or [])
    both = sorted(set(declared_num) & set(declared_cat))
    if both:
        raise DriftConfigError(f"columns listed as both numerical and categorical: {', '.join(both)}")

    if spec.columns is not None:
        wanted = _unique([*spec.columns, *declared_num, *declared_cat])
    elif declared_num or declared_cat:
        wanted = _unique([*declared_num, *declared_cat])
    else:
        wanted = [str(c) for c in reference.columns if str(c) != TARGET_COLUMN]
    if not wanted:
        raise DriftDataError("the reference data has no columns to compare")

    for side, frame in (("reference", reference), ("current", current)):
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise DriftDataError(
                f"{side} data lacks column(s) {', '.join(missing)} "
                f"(it has: {_preview(str(c) for c in frame.columns)})"
            )

    numerical: list[str] = []
    categorical: list[str] = []
    for col in wanted:
        ref_col, cur_col = reference[col], current[col]
        for side, series in (("reference", ref_col), ("current", cur_col)):
            if series.notna().sum() == 0:
                raise DriftDataError(f"column {col!r} has no values in the {side} data (all empty)")
        if col in declared_cat:
            categorical.append(col)
            continue
        ref_numeric, cur_numeric = _is_numeric(ref_col), _is_numeric(cur_col)
        if col in declared_num or ref_numeric:
            for side, series, numeric in (
                ("reference", ref_col, ref_numeric),
                ("current", cur_col, cur_numeric),
            ):
                if not numeric:
                    raise DriftDataError(_wrong_type_message(col, side, series, declared=col in declared_num))
            numerical.append(col)
        elif pd.api.types.is_datetime64_any_dtype(ref_col):
            # A timestamp drifts by construction (production comes after training): comparing it says nothing.
            continue
        else:
            categorical.append(col)
    if not numerical and not categorical:
        raise DriftDataError("no comparable columns: every selected column is a timestamp")
    return numerical, categorical


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def _wrong_type_message(col: str, side: str, series: pd.Series, *, declared: bool) -> str:
    import pandas as pd

    not_numbers = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
    example = f", e.g. {not_numbers.iloc[0]!r}" if len(not_numbers) else ""
    why = "declared numerical in the config" if declared else "numeric in the reference data"
    return f"column {col!r} is {why} but holds text in the {side} data (dtype {series.dtype}{example})"


def _require_rows(frame: pd.DataFrame, side: str) -> None:
    if len(frame.columns) == 0 or len(frame) == 0:
        raise DriftDataError(f"the {side} data is empty (0 rows)")


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _preview(names: Any, limit: int = 12) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def sample_rows(frame: pd.DataFrame, cap: int, seed: int) -> pd.DataFrame:
    """At most `cap` rows, drawn without replacement with a fixed seed so a re-run gives the same report."""
    if len(frame) <= cap:
        return frame
    return frame.sample(n=cap, random_state=seed).reset_index(drop=True)


def _check_methods(spec: DriftSpec, numerical: list[str], categorical: list[str]) -> None:
    """Fail early, with the list of valid names, on a method Evidently does not know for a column type."""
    from evidently.legacy.calculations.stattests.registry import (
        StatTestInvalidFeatureTypeError,
        StatTestNotFoundError,
        get_registered_stattest,
    )
    from evidently.legacy.core import ColumnType

    chosen: dict[str, str] = {}
    if spec.method:
        chosen.update(dict.fromkeys([*numerical, *categorical], spec.method))
    chosen.update(spec.per_column_method)
    unknown = sorted(set(spec.per_column_method) - set(numerical) - set(categorical))
    unknown += sorted(set(spec.per_column_threshold) - set(numerical) - set(categorical))
    if unknown:
        raise DriftConfigError(f"per-column settings name column(s) not being compared: {', '.join(unknown)}")
    for col, method in chosen.items():
        kind = ColumnType.Numerical if col in numerical else ColumnType.Categorical
        try:
            get_registered_stattest(method, kind)
        except StatTestNotFoundError:
            raise DriftConfigError(
                f"unknown drift method {method!r} for column {col!r}; known: {', '.join(_method_names())}"
            ) from None
        except StatTestInvalidFeatureTypeError:
            raise DriftConfigError(
                f"drift method {method!r} does not apply to {kind.value} column {col!r}"
            ) from None


def _method_names() -> list[str]:
    from evidently.legacy.calculations.stattests import registry

    return sorted(registry._registered_stat_tests)


# --------------------------------------------------------------------------------------------------
# The check itself.


def run_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: DriftSpec,
    *,
    model: str,
    out_dir: Path,
    seed: int = 0,
) -> DriftSummary:
    """Compare `current` with `reference`; write out_dir/drift-<model>.html and .json; return the summary."""
    numerical, categorical = select_columns(reference, current, spec)
    _check_methods(spec, numerical, categorical)
    columns = [*numerical, *categorical]
    ref_sample = sample_rows(reference[columns], spec.sample_cap, seed)
    cur_sample = sample_rows(current[columns], spec.sample_cap, seed + 1)

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    preset = DataDriftPreset(
        columns=columns,
        drift_share=spec.drift_share,
        method=spec.method,
        threshold=spec.threshold,
        per_column_method=dict(spec.per_column_method) or None,
        per_column_threshold=dict(spec.per_column_threshold) or None,
    )
    # include_tests=True on the Report is what yields the per-column pass/fail verdicts.
    snapshot = Report([preset], include_tests=True).run(
        current_data=Dataset.from_pandas(cur_sample, data_definition=definition),
        reference_data=Dataset.from_pandas(ref_sample, data_definition=definition),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"drift-{model}.html"
    snapshot.save_html(str(html_path))
    summary = summarize(
        json.loads(snapshot.json()),  # .dict() keeps enums; the JSON form has plain strings
        model=model,
        drift_share=spec.drift_share,
        sizes=(len(reference), len(current), len(ref_sample), len(cur_sample)),
        report_path=str(html_path),
    )
    write_summary(summary, out_dir / f"drift-{model}.json")
    return summary


def summarize(
    snapshot: dict[str, Any],
    *,
    model: str,
    drift_share: float,
    sizes: tuple[int, int, int, int],
    report_path: str = "",
) -> DriftSummary:
    """Flatten `json.loads(snapshot.json())` into a DriftSummary.

    The new API has no dataset-drift boolean: dataset drift is the share of drifted columns
    reaching `drift_share`, as the "Share of Drifted Columns: Less" test checks.
    """
    values: dict[str, dict[str, Any]] = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        if config.get("type") == "evidently:metric_v2:ValueDrift":
            values[config["column"]] = {
                "score": _number(metric.get("value")),
                "method": str(config.get("method", "")),
                "threshold": _number(config.get("threshold")),
            }
    verdicts: dict[str, bool] = {}
    for test in snapshot.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type") == "evidently:metric_v2:ValueDrift":
            verdicts[params["column"]] = test.get("status") == "FAIL"
    missing = sorted(set(values) - set(verdicts))
    if missing:
        raise RuntimeError(f"Evidently returned no drift test for column(s) {', '.join(missing)}")
    columns = tuple(
        ColumnDrift(column=col, drifted=verdicts[col], **values[col])  # order: as Evidently reported them
        for col in values
    )
    drifted = sum(c.drifted for c in columns)
    share = drifted / len(columns) if columns else 0.0
    reference_rows, current_rows, reference_sampled, current_sampled = sizes
    return DriftSummary(
        model=model,
        dataset_drift=bool(columns) and share >= drift_share,
        share_drifted=share,
        drift_share=drift_share,
        columns=columns,
        reference_rows=reference_rows,
        current_rows=current_rows,
        reference_sampled=reference_sampled,
        current_sampled=current_sampled,
        report_path=report_path,
    )


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def summary_to_dict(summary: DriftSummary) -> dict[str, Any]:
    """The JSON form of a summary (what `mlops-bot drift --json` writes and the workflow reads back)."""
    data = asdict(summary)
    data["columns"] = [asdict(c) for c in summary.columns]
    data["drifted_columns"] = summary.drifted_columns
    return data


def summary_from_dict(data: dict[str, Any]) -> DriftSummary:
    fields = {k: v for k, v in data.items() if k != "drifted_columns"}
    fields["columns"] = tuple(
        ColumnDrift(**{**c, "score": _number(c.get("score")), "threshold": _number(c.get("threshold"))})
        for c in data.get("columns", [])
    )
    return DriftSummary(**fields)


def write_summary(summary: DriftSummary, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(summary_to_dict(summary)), indent=2, sort_keys=True) + "\n")


def json_safe(value: Any) -> Any:
    """NaN is not JSON: a score Evidently could not compute is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------
# Reading tables.


def load_table(path_or_glob: str, *, root: Path) -> pd.DataFrame:
    """A CSV/Parquet file, a folder of them or a glob (concatenated), relative to `root`.

    A file missing from the workspace but tracked by DVC (or named by its `.dvc` pointer) is read
    through `dvc.api.open`, which takes it from the DVC cache or the remote.
    """
    import pandas as pd

    if path_or_glob.endswith(".dvc"):
        path_or_glob = path_or_glob[: -len(".dvc")]
    target = root / path_or_glob
    if globbing.has_magic(path_or_glob):
        files = sorted(p for p in root.glob(path_or_glob) if p.is_file() and _is_table(p.name))
        if not files:
            raise DriftDataError(f"no CSV or Parquet file matches {path_or_glob!r} under {root}")
    elif target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.is_file() and _is_table(p.name))
        if not files:
            raise DriftDataError(f"folder {path_or_glob!r} holds no CSV or Parquet file")
    elif target.is_file():
        files = [target]
    else:
        return _read_through_dvc(path_or_glob, repo=root, rev=None)
    inside = root.resolve()
    for p in files:  # the config confines the path; a symlink in the checkout must not lead out
        if not p.resolve().is_relative_to(inside):
            raise DriftDataError(f"{p.relative_to(root)} is a link that leaves the repository; refusing it")

    frames = [
        _read_local(p, shown=str(p.relative_to(root)) if p.is_relative_to(root) else str(p)) for p in files
    ]
    first_columns = list(frames[0].columns)
    for p, frame in zip(files[1:], frames[1:], strict=True):
        if list(frame.columns) != first_columns:
            raise DriftDataError(
                f"{p.name} has columns different from {files[0].name}; files matched by "
                f"{path_or_glob!r} must share one header"
            )
    table = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if len(table) == 0:
        raise DriftDataError(f"{path_or_glob} has a header but no rows")
    return table


def reference_at(root: Path, path: str, rev: str) -> pd.DataFrame:
    """The table at `path` as it was at git revision `rev` (DVC-tracked or plain git), e.g. the
    champion's training data at the sha it was trained on."""
    if path.endswith(".dvc"):
        path = path[: -len(".dvc")]
    return _read_through_dvc(path, repo=root, rev=rev)


def _is_table(name: str) -> bool:
    return name.lower().endswith(_CSV_SUFFIXES + _PARQUET_SUFFIXES)


def _read_local(path: Path, *, shown: str) -> pd.DataFrame:
    if not _is_table(path.name):
        raise DriftDataError(
            f"cannot read {shown}: only CSV (.csv, .tsv) and Parquet (.parquet) are supported"
        )
    try:
        if path.stat().st_size == 0:
            raise DriftDataError(f"{shown} is empty (0 bytes)")
        with path.open("rb") as fh:
            return _parse(fh, name=path.name, shown=shown)
    except OSError as exc:
        raise DriftDataError(f"cannot read {shown}: {exc.strerror or exc}") from exc


def _read_through_dvc(path: str, *, repo: Path, rev: str | None) -> pd.DataFrame:
    import dvc.api

    where = f"{path} at {rev}" if rev else path
    if not _is_table(path):
        raise DriftDataError(
            f"cannot read {where}: only CSV (.csv, .tsv) and Parquet (.parquet) are supported"
        )
    try:
        with dvc.api.open(path, repo=str(repo), rev=rev, mode="rb") as fh:
            raw = fh.read()
    except DriftDataError:
        raise
    except Exception as exc:  # DVC raises many types (PathMissingError, RevError, SCMError, ...)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "" if rev else " (not in the workspace, and DVC could not fetch it)"
        raise DriftDataError(f"cannot read {where}{hint}: {reason}") from exc
    if not raw:
        raise DriftDataError(f"{where} is empty (0 bytes)")
    return _parse(io.BytesIO(raw), name=path, shown=where)


def _parse(fh: Any, *, name: str, shown: str) -> pd.DataFrame:
    import pandas as pd

    lower = name.lower()
    try:
        if lower.endswith(_PARQUET_SUFFIXES):
            return pd.read_parquet(fh)
        sep = "\t" if lower.endswith((".tsv", ".tsv.gz")) else ","
        compression = "gzip" if lower.endswith(".gz") else None
        return pd.read_csv(fh, sep=sep, compression=compression)
    except pd.errors.EmptyDataError as exc:
        raise DriftDataError(f"{shown} is empty (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        # pyarrow's ArrowInvalid is a ValueError; a corrupt gzip is an OSError.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DriftDataError(f"cannot read {shown}: {reason}") from exc


# --------------------------------------------------------------------------------------------------
# Data quality: facts measured with pandas; what they mean is decided in bot.core.monitoring.


def quality_columns(reference: pd.DataFrame, spec: DriftSpec, *, label: str | None) -> list[str]:
    """The columns the production data must carry: the compared ones, else the training data's inputs."""
    declared = [*(spec.columns or []), *(spec.numerical_columns or []), *(spec.categorical_columns or [])]
    if declared:
        return _unique(declared)
    skip = {TARGET_COLUMN, label}
    return [str(c) for c in reference.columns if str(c) not in skip]


def measure_quality(
    reference: pd.DataFrame, current: pd.DataFrame, spec: DriftSpec, *, label: str | None = None
) -> QualityFacts:
    """Schema, empty values, values out of range and repeated rows of `current`, against `reference`."""
    quality = spec.quality
    categorical = set(spec.categorical_columns or [])
    columns: list[ColumnQuality] = []
    for col in quality_columns(reference, spec, label=label):
        expected = _kind(reference[col]) if col in reference.columns else "absent"
        if col not in current.columns:
            columns.append(ColumnQuality(col, expected, "absent", missing_share=1.0))
            continue
        series = current[col]
        missing = float(series.isna().mean()) if len(series) else 0.0
        found = _kind(series) if series.notna().any() else "empty"
        if col in categorical and found in ("number", "text") and expected in ("number", "text"):
            found = expected  # category codes may read as numbers on one side and text on the other
        example = _not_a_number_example(series) if expected == "number" and found == "text" else ""
        share, low, high = None, None, None
        if expected == "number" and found == "number":
            low, high = _allowed_range(reference[col], quality.ranges.get(col), quality.range_margin)
            if low is not None or high is not None:
                share = _outside_share(series, low, high)
        columns.append(ColumnQuality(col, expected, found, missing, share, low, high, example))
    duplicates = None
    if quality.max_duplicate_share is not None:  # hashing every row is the slow part: only when asked for
        duplicates = float(current.duplicated().mean()) if len(current) else 0.0
    return QualityFacts(rows=len(current), duplicate_share=duplicates, columns=tuple(columns))


def _kind(series: pd.Series) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "text"


def _not_a_number_example(series: pd.Series) -> str:
    import pandas as pd

    bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
    return str(bad.iloc[0])[:40] if len(bad) else ""


def _allowed_range(
    reference: pd.Series, explicit: Any, margin: float | None
) -> tuple[float | None, float | None]:
    if explicit is not None:
        return explicit.min, explicit.max
    if margin is None or reference.notna().sum() == 0:
        return None, None
    low, high = float(reference.min()), float(reference.max())
    slack = (high - low) * margin
    return low - slack, high + slack


def _outside_share(series: pd.Series, low: float | None, high: float | None) -> float:
    values = series.dropna()
    if len(values) == 0:
        return 0.0
    below = values < low if low is not None else values < -math.inf
    above = values > high if high is not None else values > math.inf
    return float((below | above).mean())


# --------------------------------------------------------------------------------------------------
# Performance on labelled production data. Scores are scikit-learn's, the functions a training pipeline
# uses to record the metrics the champion is compared with, so like is compared with like.

Predict = Callable[["pd.DataFrame"], Any]


def measure_performance(
    current: pd.DataFrame, spec: PerformanceSpec, predict: Predict | None, *, unavailable: str = ""
) -> PerformanceFacts:
    """Score `predict` (the champion) on the rows of `current` that carry a label."""
    rows = len(current)
    if spec.label not in current.columns:
        return PerformanceFacts(
            "no-labels", spec.label, rows, note=f"the production data has no {spec.label!r} column yet"
        )
    labelled = current[current[spec.label].notna()]
    if len(labelled) < spec.min_rows:
        return PerformanceFacts(
            "no-labels",
            spec.label,
            rows,
            len(labelled),
            note=f"{len(labelled)} labelled row(s); scoring needs at least {spec.min_rows} (performance.min_rows)",
        )
    if predict is None:
        return PerformanceFacts(
            "unavailable", spec.label, rows, len(labelled), note=unavailable or "no champion to score"
        )
    features = labelled.drop(columns=[spec.label])
    try:
        predicted = predict(features)
    except Exception as exc:  # a model that cannot read the data is a finding, not a crash of the check
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return PerformanceFacts(
            "unavailable",
            spec.label,
            rows,
            len(labelled),
            note=f"the champion could not predict: {reason[:300]}",
        )
    truth = labelled[spec.label].to_numpy()
    scores = tuple(MetricScore(m.name, score(m.scorer, truth, _as_array(predicted))) for m in spec.metrics)
    return PerformanceFacts("scored", spec.label, rows, len(labelled), scores)


def _as_array(predicted: Any) -> Any:
    import numpy as np

    values = (
        predicted.iloc[:, 0]
        if hasattr(predicted, "iloc") and getattr(predicted, "ndim", 1) == 2
        else predicted
    )
    return np.asarray(values).ravel()


def score(name: str, truth: Any, predicted: Any) -> float | None:
    """One score; None when it is undefined on these rows (r2 of a single row, say)."""
    import numpy as np
    from sklearn import metrics

    try:
        if name in ("accuracy", "balanced_accuracy"):
            fn = metrics.accuracy_score if name == "accuracy" else metrics.balanced_accuracy_score
            return float(fn(truth, predicted))
        if name in ("f1", "precision", "recall"):
            labels = set(np.unique(truth)) | set(np.unique(predicted))
            # Binary 0/1 labels are scored for the positive class, as sklearn's defaults (and the sample
            # pipeline) do; anything else is averaged over the classes.
            average = "binary" if labels <= {0, 1} else "macro"  # True == 1, False == 0
            fn = {
                "f1": metrics.f1_score,
                "precision": metrics.precision_score,
                "recall": metrics.recall_score,
            }
            return float(fn[name](truth, predicted, average=average, zero_division=0))
        truth_f, predicted_f = np.asarray(truth, dtype=float), np.asarray(predicted, dtype=float)
        if name == "mae":
            return float(metrics.mean_absolute_error(truth_f, predicted_f))
        if name == "rmse":
            return float(np.sqrt(metrics.mean_squared_error(truth_f, predicted_f)))
        if name == "mape":
            return float(metrics.mean_absolute_percentage_error(truth_f, predicted_f))
        if name == "r2":
            if len(truth_f) < 2:
                return None  # undefined: sklearn warns and answers nan
            value = float(metrics.r2_score(truth_f, predicted_f))
            return value if math.isfinite(value) else None
    except (ValueError, TypeError):
        return None
    raise ValueError(f"unknown score {name!r}")
