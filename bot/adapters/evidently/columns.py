"""Column selection: which columns are compared, as numerical or categorical; decisions on dtypes, and the
config's drift methods checked against Evidently's registry before a report runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.adapters.evidently.errors import DriftConfigError, DriftDataError
from bot.core.config import DriftSpec

if TYPE_CHECKING:
    import pandas as pd

# A label column is what the model predicts, not an input whose distribution matters for drift;
# it is left out unless the config names it.
TARGET_COLUMN = "target"


def select_columns(
    reference: pd.DataFrame, current: pd.DataFrame, spec: DriftSpec
) -> tuple[list[str], list[str]]:
    """(numerical, categorical) columns to compare; raises DriftDataError when the tables disagree."""

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
        kind = _kind(
            col, reference[col], current[col], numerical=col in declared_num, categorical=col in declared_cat
        )
        if kind == "numerical":
            numerical.append(col)
        elif kind == "categorical":
            categorical.append(col)
    if not numerical and not categorical:
        raise DriftDataError("no comparable columns: every selected column is a timestamp")
    return numerical, categorical


def _kind(
    col: str, ref_col: pd.Series, cur_col: pd.Series, *, numerical: bool, categorical: bool
) -> str | None:
    """How column `col` is compared: "numerical", "categorical", or None (a timestamp: skipped)."""
    import pandas as pd

    for side, series in (("reference", ref_col), ("current", cur_col)):
        if series.notna().sum() == 0:
            raise DriftDataError(f"column {col!r} has no values in the {side} data (all empty)")
    if categorical:
        return "categorical"
    ref_numeric, cur_numeric = _is_numeric(ref_col), _is_numeric(cur_col)
    if numerical or ref_numeric:
        for side, series, numeric in (("reference", ref_col, ref_numeric), ("current", cur_col, cur_numeric)):
            if not numeric:
                raise DriftDataError(_wrong_type_message(col, side, series, declared=numerical))
        return "numerical"
    if pd.api.types.is_datetime64_any_dtype(ref_col):
        return None  # a timestamp drifts by construction (production comes after training): says nothing
    return "categorical"


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


def check_methods(spec: DriftSpec, numerical: list[str], categorical: list[str]) -> None:
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
