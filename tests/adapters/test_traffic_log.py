"""The service's traffic log, in process: what lands on disk, and that a prediction never waits for it or
fails because of it (a full queue and a failing write drop rows and count them)."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from bot.adapters.traffic_log import TrafficLog, new_request_ids, write_labels

DAY = 1_796_256_000.0  # 2026-12-03 00:00 UTC


def parquet_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet"))


def test_rows_land_as_parquet_partitioned_by_date_and_version(tmp_path: Path) -> None:
    times = iter([DAY + 10, DAY + 86_400 + 10])  # the second request is served the next day
    log = TrafficLog(
        str(tmp_path),
        model_version="7",
        batch_rows=100,
        flush_seconds=60,
        probabilities=lambda f: ([0, 1], [[0.9, 0.1]] * len(f)),
        clock=lambda: next(times),
    )
    log.record(pd.DataFrame({"a": [1.0, 2.0], "prediction": [5, 6]}), [0, 0], ["r-0", "r-1"])
    log.record(pd.DataFrame({"a": [3.0], "prediction": [7]}), [1], ["s"])
    log.close()

    files = parquet_files(tmp_path)
    assert [f.parent.relative_to(tmp_path).as_posix() for f in files] == [
        "predictions/date=2026-12-03/version=7",
        "predictions/date=2026-12-04/version=7",
    ]
    first = pd.read_parquet(files[0])
    assert list(first["request_id"]) == ["r-0", "r-1"]
    assert list(first["prediction"]) == [0, 0]
    assert list(first["model_version"]) == ["7", "7"]
    # an input named like one of the log's own columns keeps its value under `input.<name>`
    assert list(first["input.prediction"]) == [5, 6]
    assert list(first["proba_1"]) == [0.1, 0.1]
    assert str(first["served_at"].iloc[0]) == "2026-12-03 00:00:10+00:00"
    assert log.written == 3 and log.dropped == 0


def test_a_full_queue_drops_and_counts_and_never_blocks(tmp_path: Path) -> None:
    release = threading.Event()
    busy = threading.Event()

    def slow_probabilities(frame: pd.DataFrame) -> None:
        busy.set()
        release.wait(10)  # the writer is stuck, as on a slow bucket

    drops: list[tuple[int, str]] = []
    log = TrafficLog(
        str(tmp_path),
        model_version="1",
        queue_rows=4,
        batch_rows=1,
        flush_seconds=60,
        probabilities=slow_probabilities,
        on_drop=lambda rows, reason: drops.append((rows, reason)),
    )
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    log.record(frame, [0, 1], ["a", "b"])  # taken by the writer, which then hangs
    assert busy.wait(5)
    log.record(frame, [0, 1], ["c", "d"])
    log.record(frame, [0, 1], ["e", "f"])  # 4 rows wait: the queue is full
    log.record(frame, [0, 1], ["g", "h"])  # dropped at once, not waited for
    assert drops == [(2, "queue-full")]
    release.set()
    log.close()
    assert log.written == 6 and log.dropped == 2
    written = pd.concat([pd.read_parquet(f) for f in parquet_files(tmp_path)])
    assert sorted(written["request_id"]) == ["a", "b", "c", "d", "e", "f"]


def test_a_failing_write_costs_its_rows_not_the_service(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")
    drops: list[tuple[int, str]] = []
    log = TrafficLog(
        str(blocker / "traffic"),
        model_version="1",
        batch_rows=1,
        on_drop=lambda rows, reason: drops.append((rows, reason)),
    )
    log.record(pd.DataFrame({"a": [1.0]}), [0], ["x"])  # no exception here, whatever the disk says
    log.close()
    assert drops == [(1, "write-error")]
    assert log.dropped == 1 and log.written == 0


def test_labels_and_request_ids(tmp_path: Path) -> None:
    path = write_labels(str(tmp_path), ["a", "b"], [1, 0], received_at=DAY)
    labels = pd.read_parquet(path)
    assert Path(path).parent.name == "date=2026-12-03"
    assert list(labels["request_id"]) == ["a", "b"] and list(labels["label"]) == [1, 0]
    assert new_request_ids(1, "abc") == ["abc"]
    assert new_request_ids(2, "abc") == ["abc-0", "abc-1"]
    generated = new_request_ids(3)
    assert len(set(generated)) == 3


@pytest.mark.parametrize("values", [[1, 2.5], ["a", "b"], [{"p": 1}, {"p": 2}]])
def test_any_prediction_shape_is_stored(tmp_path: Path, values: list[object]) -> None:
    log = TrafficLog(str(tmp_path), model_version="1", batch_rows=1)
    log.record(pd.DataFrame({"a": [1.0, 2.0]}), values, ["x", "y"])
    log.close()
    assert log.written == 2, log.dropped
