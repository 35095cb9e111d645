"""A canary's live requests read back from the traffic log: every request that both models scored (one
answered, the other as its shadow), paired by request id, with the labels that came back joined.

The layout is `bot.adapters.traffic_log`'s: answered rows under `predictions/date=D/version=V/`, the shadow's
under `shadow/date=D/version=V/`, labels under `labels/`. Only the two versions' own partitions are read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.adapters import traffic_log as layout

if TYPE_CHECKING:
    import pandas as pd


class CanaryTrafficError(Exception):
    """The traffic log could not be read; the message says where and why."""


@dataclass(frozen=True)
class PairedRequests:
    """The requests both models scored. `rows`: request_id, the inputs, `label` (NaN where none came back) and
    `answered_by`; `outputs[version]`: that model's prediction and probabilities per row, in `rows`' order."""

    rows: pd.DataFrame
    outputs: dict[str, pd.DataFrame]
    answered: dict[str, int]  # version -> requests rows it answered (of the paired ones)

    @property
    def labelled(self) -> int:
        return int(self.rows[layout.LABEL].notna().sum())


def paired_requests(
    location: str, *, champion_version: str, canary_version: str, since: dt.datetime | None = None
) -> PairedRequests:
    """Rows both versions scored since `since` (every day when None), labels joined by request id."""
    try:
        return _paired(location, champion_version, canary_version, since)
    except CanaryTrafficError:
        raise
    except (OSError, ImportError, ValueError, RuntimeError) as exc:  # fsspec backends raise these
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CanaryTrafficError(f"cannot read the traffic log at {location}: {reason[:300]}") from exc


def _paired(
    location: str, champion_version: str, canary_version: str, since: dt.datetime | None
) -> PairedRequests:
    import pandas as pd

    fs, base = layout.filesystem(location)
    frames = []
    for kind in (layout.PREDICTIONS, layout.SHADOW):
        for version in (champion_version, canary_version):
            pattern = f"{base}/{kind}/date=*/version={layout.safe_name(version)}/*.parquet"
            for path in sorted(str(p) for p in fs.glob(pattern)):
                if Path(path).name.startswith(".") or not _on_or_after(path, since):
                    continue
                with fs.open(path, "rb") as fh:
                    frames.append(pd.read_parquet(fh))
    if not frames:
        empty = pd.DataFrame(columns=[layout.REQUEST_ID, layout.LABEL, "answered_by"])
        return PairedRequests(empty, {}, {})
    logged = pd.concat(frames, ignore_index=True)
    logged[layout.MODEL_VERSION] = logged[layout.MODEL_VERSION].astype(str)
    if since is not None:
        logged = logged[pd.to_datetime(logged[layout.SERVED_AT], utc=True) >= since]
    logged = logged.drop_duplicates([layout.REQUEST_ID, layout.MODEL_VERSION], keep="last")
    by_version = {v: logged[logged[layout.MODEL_VERSION] == v].set_index(layout.REQUEST_ID) for v in
                  (champion_version, canary_version)}  # fmt: skip
    both = by_version[champion_version].index.intersection(by_version[canary_version].index)
    answered = logged[logged[layout.ANSWERED].astype(bool) & logged[layout.REQUEST_ID].isin(both)]
    answered = answered.sort_values(layout.SERVED_AT, kind="stable").set_index(layout.REQUEST_ID)
    order = answered.index
    meta = set(layout.META_COLUMNS)
    inputs = [c for c in answered.columns if c not in meta and not str(c).startswith(layout.PROBA_PREFIX)]
    rows = answered[inputs].rename(
        columns=lambda c: c[len(layout.INPUT_PREFIX) :] if str(c).startswith(layout.INPUT_PREFIX) else c
    )
    rows = rows.assign(answered_by=answered[layout.MODEL_VERSION].to_numpy())
    labels = _labels(fs, base)
    rows = rows.assign(**{layout.LABEL: order.map(labels).to_numpy() if len(labels) else None})
    outputs = {
        v: by_version[v]
        .loc[order, [c for c in by_version[v].columns if _is_output(c)]]
        .reset_index(drop=True)
        for v in (champion_version, canary_version)
    }
    counts = answered[layout.MODEL_VERSION].value_counts()
    return PairedRequests(
        rows.reset_index(names=layout.REQUEST_ID),
        outputs,
        {str(v): int(n) for v, n in counts.items()},
    )


def _is_output(column: Any) -> bool:
    return column == layout.PREDICTION or str(column).startswith(layout.PROBA_PREFIX)


def _on_or_after(path: str, since: dt.datetime | None) -> bool:
    if since is None:
        return True
    for part in path.split("/"):
        if part.startswith("date="):
            try:
                return dt.date.fromisoformat(part[len("date=") :]) >= since.date()
            except ValueError:
                return False
    return False


def _labels(fs: Any, base: str) -> pd.Series:
    """The latest label of each request id (a later label corrects an earlier one)."""
    import pandas as pd

    frames = []
    for path in sorted(str(p) for p in fs.glob(f"{base}/{layout.LABELS}/**")):
        if Path(path).name.startswith(".") or not path.lower().endswith((".parquet", ".pq", ".csv")):
            continue
        with fs.open(path, "rb") as fh:
            frame = pd.read_csv(fh) if path.lower().endswith(".csv") else pd.read_parquet(fh)
        if {layout.REQUEST_ID, layout.LABEL} <= set(frame.columns):
            if layout.RECEIVED_AT not in frame.columns:
                frame[layout.RECEIVED_AT] = pd.NaT
            frames.append(frame[[layout.REQUEST_ID, layout.LABEL, layout.RECEIVED_AT]])
    if not frames:
        return pd.Series(dtype=object)
    labels = pd.concat(frames, ignore_index=True)
    labels[layout.REQUEST_ID] = labels[layout.REQUEST_ID].astype(str)
    labels[layout.RECEIVED_AT] = pd.to_datetime(labels[layout.RECEIVED_AT], utc=True)
    labels = labels.sort_values(layout.RECEIVED_AT, na_position="first", kind="stable")
    return labels.drop_duplicates(layout.REQUEST_ID, keep="last").set_index(layout.REQUEST_ID)[layout.LABEL]
