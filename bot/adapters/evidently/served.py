"""Reading the service's traffic log back (`drift.current: served`): the rows served in a window, as the
model's input columns, with the labels that came back joined by request id.

The layout is the one `bot.adapters.traffic_log` writes in the service: Parquet under
`<location>/predictions/date=YYYY-MM-DD/version=V/`, labels under `<location>/labels/` (the service's
`POST /feedback` writes Parquet there; a file dropped there, CSV or Parquet with `request_id,label`, counts
the same). Each check also leaves `<location>/checks/<model>/<time>.json`, where `since-last-check` starts.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.adapters import traffic_log as layout
from bot.adapters.evidently.errors import DriftDataError
from bot.adapters.evidently.tables import load_table
from bot.core.config import DriftSpec
from bot.core.config.traffic import LastWindow, TrafficLog
from bot.core.monitoring.served import ServedFacts, served_window
from bot.core.monitoring.values import parse_time

if TYPE_CHECKING:
    import pandas as pd

_LABEL_SUFFIXES = (".parquet", ".pq", ".csv")


def resolve(location: str, root: Path) -> str:
    """A URL as it is; a path relative to the repository checkout."""
    return location if "://" in location else str(root / location)


def current_table(
    spec: DriftSpec, *, root: Path, model: str, now: dt.datetime, label: str | None
) -> tuple[pd.DataFrame, ServedFacts | None]:
    """The check's current data: the file(s) `drift.current` names, or what the service served."""
    if not spec.served:
        return load_table(spec.current, root=root), None
    return served_current(spec.traffic, spec.window, root=root, model=model, now=now, label=label)


def served_current(
    traffic: TrafficLog,
    window: LastWindow | str,
    *,
    root: Path,
    model: str,
    now: dt.datetime,
    label: str | None,
) -> tuple[pd.DataFrame, ServedFacts]:
    """The model's inputs as served in the window (and `label` joined, when the check scores performance),
    and what was read. A log that cannot be reached (no credentials, no s3fs, a broken file) is a
    DriftDataError saying so. `record_check` (once the check is done) moves `since-last-check` on."""
    try:
        return _served_current(traffic, window, root=root, model=model, now=now, label=label)
    except DriftDataError:
        raise
    except (OSError, ImportError, ValueError, RuntimeError) as exc:  # fsspec backends raise these
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DriftDataError(f"cannot read the traffic log at {traffic.location}: {reason[:300]}") from exc


def _served_current(
    traffic: TrafficLog,
    window: LastWindow | str,
    *,
    root: Path,
    model: str,
    now: dt.datetime,
    label: str | None,
) -> tuple[pd.DataFrame, ServedFacts]:
    location = resolve(traffic.location, root)
    fs, base = layout.filesystem(location)
    since_last = not isinstance(window, LastWindow)
    since, until, how = served_window(window, now, _earlier_checks(fs, base, model) if since_last else ())
    in_window, earlier, older_files = _read_predictions(fs, base, since, until)
    if in_window.empty:
        raise DriftDataError(
            f"the service logged no traffic {how} ({since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC) "
            f"under {traffic.location} (drift.traffic.location)"
        )
    versions = in_window[layout.MODEL_VERSION].astype(str).value_counts()
    facts = ServedFacts(
        since=since.isoformat(timespec="seconds"),
        until=until.isoformat(timespec="seconds"),
        window=how,
        rows=len(in_window),
        versions=tuple(sorted((str(v), int(n)) for v, n in versions.items())),
    )
    current = inputs_of(in_window)
    if label is not None:
        labels = _read_labels(fs, base, since, until)
        ids = set(in_window[layout.REQUEST_ID].astype(str))
        unmatched = set(labels[layout.REQUEST_ID]) - ids - earlier
        earlier |= _served_before(fs, older_files, unmatched)
        current, facts = join_labels(current, in_window[layout.REQUEST_ID], labels, earlier, label, facts)
    return current, facts


def inputs_of(logged: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns of logged rows, under their own names."""
    meta = set(layout.META_COLUMNS)
    kept = [c for c in logged.columns if c not in meta and not str(c).startswith(layout.PROBA_PREFIX)]
    inputs = logged[kept]
    return inputs.rename(
        columns=lambda c: c[len(layout.INPUT_PREFIX) :] if c.startswith(layout.INPUT_PREFIX) else c
    )


def join_labels(
    current: pd.DataFrame,
    request_ids: pd.Series,
    labels: pd.DataFrame,
    earlier_ids: set[str],
    label: str,
    facts: ServedFacts,
) -> tuple[pd.DataFrame, ServedFacts]:
    """`current` with column `label` (empty where no label came back) and the counts of the join."""
    from dataclasses import replace

    ids = request_ids.astype(str)
    if labels.empty:
        return current.assign(**{label: None}), replace(facts, labels=0)
    latest = labels.drop_duplicates(layout.REQUEST_ID, keep="last").set_index(layout.REQUEST_ID)[layout.LABEL]
    in_window = set(ids)
    matched = [i for i in latest.index if i in in_window]
    late = [i for i in latest.index if i not in in_window and i in earlier_ids]
    joined = current.assign(**{label: ids.map(latest).to_numpy()})
    counts = replace(
        facts,
        labels=len(labels),
        joined=int(ids.isin(matched).sum()),
        duplicate=len(labels) - len(latest),
        late=len(late),
        unknown=len(latest) - len(matched) - len(late),
    )
    return joined, counts


def _partition_day(path: str) -> dt.date | None:
    for part in path.split("/"):
        if part.startswith("date="):
            try:
                return dt.date.fromisoformat(part[len("date=") :])
            except ValueError:
                return None
    return None


def _files(fs: Any, pattern: str, suffixes: tuple[str, ...]) -> list[str]:
    return sorted(
        str(p)
        for p in fs.glob(pattern)
        if str(p).lower().endswith(suffixes) and not Path(str(p)).name.startswith(".")
    )


def _read_predictions(
    fs: Any, base: str, since: dt.datetime, until: dt.datetime
) -> tuple[pd.DataFrame, set[str], list[str]]:
    """The rows served in [since, until), the ids served earlier on the window's first day, and the files of
    the days before it (not read here: only a label no recent row explains sends the check to them)."""
    import pandas as pd

    frames, older = [], []
    for path in _files(fs, f"{base}/{layout.PREDICTIONS}/date=*/version=*/*", (".parquet",)):
        day = _partition_day(path)
        if day is None or day > until.date():
            continue
        if day < since.date():
            older.append(path)
        else:
            frames.append(_read(fs, path))
    if not frames:
        return pd.DataFrame(columns=list(layout.META_COLUMNS)), set(), older
    logged = pd.concat(frames, ignore_index=True)
    served_at = pd.to_datetime(logged[layout.SERVED_AT], utc=True)
    logged[layout.SERVED_AT] = served_at
    earlier = set(logged.loc[served_at < since, layout.REQUEST_ID].astype(str))
    in_window = logged[(served_at >= since) & (served_at < until)]
    return in_window.sort_values(layout.SERVED_AT, kind="stable").reset_index(drop=True), earlier, older


def _served_before(fs: Any, older_files: list[str], wanted: set[str]) -> set[str]:
    """Which of `wanted` the days before the window served (a late label's row), newest day first, reading
    only the id column and stopping once every id is found: an unknown id costs a scan of the old ids."""
    found: set[str] = set()
    for path in reversed(older_files):
        if not wanted - found:
            break
        ids = set(_read(fs, path, columns=[layout.REQUEST_ID])[layout.REQUEST_ID].astype(str))
        found |= ids & wanted
    return found


def _read_labels(fs: Any, base: str, since: dt.datetime, until: dt.datetime) -> pd.DataFrame:
    """The labels that came back within the window, oldest first (by `received_at` where a file has it, else by
    file name). A label arrives after its row was served, so one received before the window concerns an
    earlier check (which counted it, late or unknown included): a `date=` folder older than the window is
    skipped, and so is a label received by `since` (the previous check saw it) or after `until` (the next one
    will). A label without `received_at` (a dropped file without that column) is always read."""
    import pandas as pd

    frames = []
    paths = [
        p
        for p in _files(fs, f"{base}/{layout.LABELS}/**", _LABEL_SUFFIXES)
        if (day := _partition_day(p)) is None or day >= since.date()
    ]
    for order, path in enumerate(paths):
        frame = _read(fs, path)
        shown = path[len(base) + 1 :] if path.startswith(base) else path
        missing = [c for c in (layout.REQUEST_ID, layout.LABEL) if c not in frame.columns]
        if missing:
            raise DriftDataError(
                f"label file {shown} lacks column(s) {', '.join(missing)} (request_id,label)"
            )
        received = frame.get(layout.RECEIVED_AT)
        frames.append(
            pd.DataFrame(
                {
                    layout.REQUEST_ID: frame[layout.REQUEST_ID].astype(str),
                    layout.LABEL: frame[layout.LABEL],
                    layout.RECEIVED_AT: pd.to_datetime(received, utc=True)
                    if received is not None
                    else pd.NaT,
                    "_order": order,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=[layout.REQUEST_ID, layout.LABEL, layout.RECEIVED_AT])
    labels = pd.concat(frames, ignore_index=True)
    received = labels[layout.RECEIVED_AT]
    labels = labels[received.isna() | ((received > since) & (received <= until))]
    return labels.sort_values([layout.RECEIVED_AT, "_order"], na_position="first", kind="stable").drop(
        columns="_order"
    )


def _read(fs: Any, path: str, columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    try:
        with fs.open(path, "rb") as fh:
            return pd.read_csv(fh) if path.lower().endswith(".csv") else pd.read_parquet(fh, columns=columns)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DriftDataError(f"cannot read the traffic log's {Path(path).name}: {reason}") from exc


def _checks_folder(base: str, model: str) -> str:
    return f"{base}/checks/{layout.safe_name(model)}"


def _earlier_checks(fs: Any, base: str, model: str) -> list[dt.datetime]:
    times = []
    for path in _files(fs, f"{_checks_folder(base, model)}/*", (".json",)):
        stamp = parse_time(Path(path).name[: -len(".json")].replace("_", ":"))
        if stamp is not None:
            times.append(stamp)
    return times


def record_check(spec: DriftSpec, facts: ServedFacts, *, root: Path, model: str) -> None:
    """Remember a finished `since-last-check` check: the next one starts where this window ended."""
    at = parse_time(facts.until)
    if spec.window != "since-last-check" or at is None:
        return
    location = resolve(spec.traffic.location, root)
    try:
        fs, base = layout.filesystem(location)
        _record_check(fs, base, model, at)
    except (OSError, ImportError, ValueError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DriftDataError(
            f"cannot record this check under {spec.traffic.location}/checks (since-last-check needs it): "
            f"{reason[:300]}"
        ) from exc


def _record_check(fs: Any, base: str, model: str, at: dt.datetime) -> None:
    folder = _checks_folder(base, model)
    fs.makedirs(folder, exist_ok=True)
    name = at.isoformat(timespec="seconds").replace(":", "_")
    with fs.open(f"{folder}/{name}.json", "w") as fh:
        fh.write(json.dumps({"checked_at": at.isoformat(timespec="seconds")}) + "\n")
