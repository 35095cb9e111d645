"""The served model's traffic log: each request's rows, prediction, probabilities, model version and request
id, written in batches as Parquet under `<location>/predictions/date=YYYY-MM-DD/version=V/`; the labels that
come back under `<location>/labels/`.

A canary service (two models in one service) writes the answered rows the same way, each under the version
that answered it, and what the other model would have answered on the same rows under
`<location>/shadow/date=YYYY-MM-DD/version=V/` (column `answered` false): the monitoring check reads only
`predictions/`, the canary's comparison pairs both folders by request id.

This file is copied verbatim into every bento the bot builds (as `traffic_log.py` beside `service.py`), so it
imports nothing from `bot` and only the standard library at import time; pyarrow, pandas and fsspec are
imported where they are used. The bot reads the same layout back (`bot.adapters.evidently.served`).

Why not `bentoml.monitor`: its default sink writes JSON log lines per process, with no Parquet, no
partitioning by model version and no bound on what waits in memory. A prediction must never wait for, or
fail because of, the log: `record` only appends to a bounded buffer (rows beyond `queue_rows` are dropped
and counted); a daemon thread writes batches, and a failed write drops and counts its rows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

PREDICTIONS = "predictions"
SHADOW = "shadow"
LABELS = "labels"
# Columns the log adds beside the model's own input columns (an input named like one is stored as `input.<name>`).
REQUEST_ID = "request_id"
SERVED_AT = "served_at"
MODEL_VERSION = "model_version"
PREDICTION = "prediction"
PROBA_PREFIX = "proba_"
ANSWERED = "answered"  # true: this model's prediction was the answer; false: a shadow's, logged beside it
META_COLUMNS = (REQUEST_ID, SERVED_AT, MODEL_VERSION, PREDICTION, ANSWERED)
INPUT_PREFIX = "input."
LABEL = "label"
RECEIVED_AT = "received_at"

log = logging.getLogger("mlops_bot.traffic_log")

Probabilities = Callable[[Any], tuple[list[Any], Any] | None]  # frame -> (classes, n x k array) | None
OnDrop = Callable[[int, str], None]  # (rows, reason: "queue-full" | "write-error" | "shadow-error")
DROP_REASONS = ("queue-full", "write-error", "shadow-error")


def partition(kind: str, day: str, version: str) -> str:
    """The folder of one day's rows for one model version, relative to the location."""
    return f"{kind}/date={day}/version={safe_name(version)}"


def safe_name(value: str) -> str:
    """A path segment for a model name or version."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in value) or "_"


def filesystem(location: str) -> tuple[Any, str]:
    """(fsspec filesystem, root path) for a URL or a local path."""
    import fsspec.core

    fs, root = fsspec.core.url_to_fs(location)
    return fs, str(root).rstrip("/")


def write_parquet(fs: Any, folder: str, table: Any) -> str:
    """Write `table` as one new file in `folder`; a local file appears whole (written aside, then renamed)."""
    import pyarrow.parquet as pq

    name = f"part-{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:8]}.parquet"
    fs.makedirs(folder, exist_ok=True)
    target = f"{folder}/{name}"
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    written = f"{folder}/.{name}.tmp" if local else target
    with fs.open(written, "wb") as fh:
        pq.write_table(table, fh, compression="snappy")
    if local:
        fs.mv(written, target)
    return target


@dataclass(frozen=True)
class LoggedModel:
    """A model whose rows the log writes: its version (the partition), its class probabilities, and, for a
    shadow, how it predicts. Both run in the writer thread, never on the request path."""

    version: str
    probabilities: Probabilities | None = None
    predict: Callable[[Any], Sequence[Any]] | None = None


@dataclass
class _Entry:
    served_at: float
    request_ids: list[str]
    frame: Any  # the model's input, a pandas DataFrame
    predictions: list[Any]
    model: LoggedModel  # the model that answered
    shadow: LoggedModel | None = None  # the model scored on the same rows after the answer


@dataclass
class _Piece:
    """Rows of one model in one entry, as they are written."""

    served_at: float
    request_ids: list[str]
    frame: Any
    predictions: list[Any]
    model: LoggedModel
    answered: bool


class TrafficLog:
    """Batches served rows to Parquet off the request path. `record` never blocks on I/O and never raises."""

    def __init__(
        self,
        location: str,
        *,
        model_version: str,
        queue_rows: int = 10_000,
        batch_rows: int = 1_000,
        flush_seconds: float = 5.0,
        probabilities: Probabilities | None = None,
        on_drop: OnDrop | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.location = location
        self.model_version = model_version
        self.queue_rows = queue_rows
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.dropped = 0
        self.written = 0  # answered rows written
        self.shadow_written = 0  # shadow rows written
        self.model = LoggedModel(model_version, probabilities)
        self._on_drop = on_drop
        self._clock = clock
        self._entries: list[_Entry] = []
        self._pending = 0
        self._closing = False
        self._wake = threading.Condition()
        self._fs: Any = None
        self._root = ""
        self._prepare()
        self._thread = threading.Thread(target=self._run, name="mlops-bot-traffic-log", daemon=True)
        self._thread.start()

    def _prepare(self) -> None:
        """Import the writer's libraries now, at service start: an import in the writer thread would hold the
        interpreter lock for a few hundred milliseconds in the middle of a prediction."""
        try:
            import pyarrow.parquet  # noqa: F401

            self._fs, self._root = filesystem(self.location)
        except Exception:  # an unreachable bucket at start is retried at the first write
            log.exception("traffic log: %s is not usable yet", self.location)

    def record(
        self,
        frame: Any,
        predictions: Sequence[Any],
        request_ids: Sequence[str],
        *,
        answered_by: LoggedModel | None = None,
        shadow: LoggedModel | None = None,
    ) -> None:
        """Queue one request's rows, answered by `answered_by` (default: the log's model); `shadow`, when
        given, is scored on the same rows by the writer and logged beside them. Beyond `queue_rows` waiting
        rows they are dropped and counted."""
        rows = len(request_ids)
        try:
            entry = _Entry(
                self._clock(), list(request_ids), frame, list(predictions), answered_by or self.model, shadow
            )
            with self._wake:
                full = self._closing or self._pending + rows > self.queue_rows
                if not full:
                    self._entries.append(entry)
                    self._pending += rows
                    if self._pending >= self.batch_rows:
                        self._wake.notify()
        except Exception:  # the log must never fail a prediction
            log.exception("traffic log: could not queue %d row(s)", rows)
            full = True
        if full:
            self._drop(rows, "queue-full")

    def close(self, timeout: float = 10.0) -> None:
        """Write what waits and stop the writer (the service's shutdown hook)."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join(timeout)

    def _drop(self, rows: int, reason: str) -> None:
        self.dropped += rows
        if self._on_drop is not None:
            try:
                self._on_drop(rows, reason)
            except Exception:
                log.exception("traffic log: the drop counter failed")

    def _run(self) -> None:
        while True:
            with self._wake:
                deadline = time.monotonic() + self.flush_seconds
                while not self._closing and self._pending < self.batch_rows:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(left)
                entries, self._entries, self._pending = self._entries, [], 0
                closing = self._closing
            if entries:
                self._write(entries)
            if closing:
                return

    def _write(self, entries: list[_Entry]) -> None:
        rows = sum(len(e.request_ids) for e in entries)
        try:
            if self._fs is None:
                self._fs, self._root = filesystem(self.location)
            pieces = [
                _Piece(e.served_at, e.request_ids, e.frame, e.predictions, e.model, True) for e in entries
            ]
            for (day, kind, version), table in self._tables(pieces):
                write_parquet(self._fs, f"{self._root}/{partition(kind, day, version)}", table)
            self.written += rows
        except Exception:  # a full disk or an unreachable bucket costs these rows, never the service
            log.exception("traffic log: could not write %d row(s) to %s", rows, self.location)
            self._drop(rows, "write-error")
            return
        self._write_shadows([e for e in entries if e.shadow is not None])

    def _write_shadows(self, entries: list[_Entry]) -> None:
        """What the other model answers on the same rows, scored here, after the answer went out: one call
        per shadow model for the whole batch (a call per request would hold the interpreter lock a thousand
        times while requests wait), one per request only when the batch call fails."""
        pieces, failed = [], 0
        by_model: dict[int, list[_Entry]] = {}
        for e in entries:
            by_model.setdefault(id(e.shadow), []).append(e)
        for group in by_model.values():
            shadow = group[0].shadow
            assert shadow is not None and shadow.predict is not None
            for part, predicted in self._shadow_predictions(shadow, group):
                if predicted is None:
                    failed += len(part.request_ids)
                else:
                    pieces.append(
                        _Piece(part.served_at, part.request_ids, part.frame, predicted, shadow, False)
                    )
        if failed:
            self._drop(failed, "shadow-error")
        if not pieces:
            return
        rows = sum(len(p.request_ids) for p in pieces)
        try:
            for (day, kind, version), table in self._tables(pieces):
                write_parquet(self._fs, f"{self._root}/{partition(kind, day, version)}", table)
            self.shadow_written += rows
        except Exception:
            log.exception("traffic log: could not write %d shadow row(s) to %s", rows, self.location)
            self._drop(rows, "write-error")

    def _shadow_predictions(
        self, shadow: LoggedModel, group: list[_Entry]
    ) -> list[tuple[_Entry, list[Any] | None]]:
        import pandas as pd

        assert shadow.predict is not None
        try:
            predicted = list(shadow.predict(pd.concat([e.frame for e in group], ignore_index=True)))
            if len(predicted) == sum(len(e.request_ids) for e in group):
                out: list[tuple[_Entry, list[Any] | None]] = []
                start = 0
                for e in group:
                    out.append((e, predicted[start : start + len(e.request_ids)]))
                    start += len(e.request_ids)
                return out
        except Exception:  # one request the shadow cannot score must not cost the others: one by one
            log.info("traffic log: shadow version %s could not score the batch; scoring each", shadow.version)
        out = []
        for e in group:
            try:
                out.append((e, list(shadow.predict(e.frame))))
            except Exception:  # a shadow that cannot score costs its rows, never the answered ones
                log.exception("traffic log: shadow version %s could not score", shadow.version)
                out.append((e, None))
        return out

    def _tables(self, pieces: list[_Piece]) -> list[tuple[tuple[str, str, str], Any]]:
        """One Arrow table per UTC day, folder and model version of the pieces (a batch can straddle midnight,
        and a canary's holds two versions)."""
        import pandas as pd
        import pyarrow as pa

        groups: dict[tuple[str, str, str], list[_Piece]] = {}
        for p in pieces:
            day = dt.datetime.fromtimestamp(p.served_at, dt.UTC).strftime("%Y-%m-%d")
            groups.setdefault((day, PREDICTIONS if p.answered else SHADOW, p.model.version), []).append(p)
        tables = []
        for key, group in groups.items():
            raw = pd.concat([p.frame for p in group], ignore_index=True)
            inputs = raw.rename(columns=lambda c: f"{INPUT_PREFIX}{c}" if c in META_COLUMNS else str(c))
            served = [dt.datetime.fromtimestamp(p.served_at, dt.UTC) for p in group for _ in p.request_ids]
            meta = pd.DataFrame(
                {
                    REQUEST_ID: [r for p in group for r in p.request_ids],
                    SERVED_AT: pd.to_datetime(served, utc=True),
                    MODEL_VERSION: group[0].model.version,
                    PREDICTION: _column([v for p in group for v in p.predictions]),
                    ANSWERED: group[0].answered,
                }
            )
            probabilities = _probability_columns(group[0].model.probabilities, raw)
            frame = pd.concat([meta, inputs, probabilities], axis=1)
            tables.append((key, pa.Table.from_pandas(frame, preserve_index=False)))
        return tables


def _probability_columns(probabilities: Probabilities | None, inputs: Any) -> Any:
    import pandas as pd

    if probabilities is None:
        return pd.DataFrame(index=inputs.index)
    try:
        answer = probabilities(inputs)
    except Exception:  # probabilities are extra: the rows are still logged without them
        log.exception("traffic log: predict_proba failed")
        answer = None
    if answer is None:
        return pd.DataFrame(index=inputs.index)
    classes, values = answer
    return pd.DataFrame(values, columns=[f"{PROBA_PREFIX}{c}" for c in classes], index=inputs.index)


def _column(values: list[Any]) -> list[Any]:
    """Predictions as one Parquet type: plain scalars as they are, anything else (a dict per row) as JSON."""
    if all(isinstance(v, bool | int | float | str) or v is None for v in values):
        kinds = {type(v) for v in values if v is not None}
        if len(kinds) <= 1 or kinds <= {int, float}:
            return values
    return [json.dumps(v, default=str, sort_keys=True) for v in values]


def write_labels(
    location: str, request_ids: Sequence[str], labels: Sequence[Any], *, received_at: float
) -> str:
    """Store labels that came back (`POST /feedback`): one Parquet file of request_id, label, received_at."""
    import pandas as pd
    import pyarrow as pa

    stamp = dt.datetime.fromtimestamp(received_at, dt.UTC)
    frame = pd.DataFrame(
        {
            REQUEST_ID: [str(r) for r in request_ids],
            LABEL: _column(list(labels)),
            RECEIVED_AT: pd.to_datetime([stamp] * len(request_ids), utc=True),
        }
    )
    fs, root = filesystem(location)
    folder = f"{root}/{LABELS}/date={stamp.strftime('%Y-%m-%d')}"
    return write_parquet(fs, folder, pa.Table.from_pandas(frame, preserve_index=False))


def new_request_ids(count: int, given: str | None = None) -> list[str]:
    """Ids for a request's rows: the caller's own (`X-Request-Id`; `<id>-<row>` for several rows), else new."""
    if given:
        return [given] if count == 1 else [f"{given}-{i}" for i in range(count)]
    return [uuid.uuid4().hex for _ in range(count)]
