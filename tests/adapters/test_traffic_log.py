"""The service's traffic log, in process: what lands on disk, and that a prediction never waits for it or
fails because of it (a full queue and a failing write drop rows and count them)."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from bot.adapters.traffic_log import LoggedModel, TrafficLog, new_request_ids, write_labels

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


def test_a_canary_logs_each_answer_under_its_version_and_the_shadow_beside_it(tmp_path: Path) -> None:
    """Two models in one service: the answered rows under the version that answered (`predictions/`), the other
    model's prediction on the same rows under `shadow/`, each with its own probabilities, paired by request id."""
    champion = LoggedModel(
        "3", probabilities=lambda f: ([0, 1], [[0.8, 0.2]] * len(f)), predict=lambda f: [0] * len(f)
    )
    canary = LoggedModel(
        "4", probabilities=lambda f: ([0, 1], [[0.3, 0.7]] * len(f)), predict=lambda f: [1] * len(f)
    )
    log = TrafficLog(
        str(tmp_path), model_version="3", batch_rows=100, flush_seconds=60, clock=lambda: DAY + 5
    )
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    log.record(frame, [0, 0], ["c-0", "c-1"], answered_by=champion, shadow=canary)
    log.record(frame.iloc[:1], [1], ["k"], answered_by=canary, shadow=champion)
    log.close()

    folders = sorted({f.parent.relative_to(tmp_path).as_posix() for f in parquet_files(tmp_path)})
    assert folders == [
        "predictions/date=2026-12-03/version=3",
        "predictions/date=2026-12-03/version=4",
        "shadow/date=2026-12-03/version=3",
        "shadow/date=2026-12-03/version=4",
    ]
    rows = pd.concat([pd.read_parquet(f) for f in parquet_files(tmp_path)], ignore_index=True)
    by = rows.set_index(["request_id", "model_version"])
    assert by.loc[("c-0", "3"), "answered"] and not by.loc[("c-0", "4"), "answered"]
    assert by.loc[("c-0", "4"), "prediction"] == 1 and by.loc[("c-0", "4"), "proba_1"] == 0.7
    assert by.loc[("k", "4"), "answered"] and by.loc[("k", "3"), "prediction"] == 0
    assert by.loc[("k", "3"), "proba_1"] == 0.2
    assert log.written == 3 and log.shadow_written == 3 and log.dropped == 0


def test_a_shadow_that_cannot_score_costs_only_its_own_rows(tmp_path: Path) -> None:
    def broken(frame: pd.DataFrame) -> list[int]:
        raise ValueError("the candidate wants a column the champion did not get")

    drops: list[tuple[int, str]] = []
    log = TrafficLog(
        str(tmp_path), model_version="3", batch_rows=1, on_drop=lambda rows, why: drops.append((rows, why))
    )
    log.record(pd.DataFrame({"a": [1.0]}), [0], ["x"], shadow=LoggedModel("4", predict=broken))
    log.close()
    assert drops == [(1, "shadow-error")]
    assert log.written == 1 and log.shadow_written == 0
    assert [f.parts[-4] for f in parquet_files(tmp_path)] == ["predictions"]


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


def test_the_shadow_scores_a_batch_at_once_and_one_bad_request_costs_only_its_rows(tmp_path: Path) -> None:
    calls: list[int] = []

    def picky(frame: pd.DataFrame) -> list[int]:
        calls.append(len(frame))
        if (frame["a"] < 0).any():
            raise ValueError("negative input")
        return [1] * len(frame)

    drops: list[tuple[int, str]] = []
    log = TrafficLog(
        str(tmp_path), model_version="3", batch_rows=100, flush_seconds=60,
        on_drop=lambda rows, why: drops.append((rows, why)),
    )  # fmt: skip
    shadow = LoggedModel("4", predict=picky)
    for i, value in enumerate([1.0, 2.0, -1.0, 3.0]):
        log.record(pd.DataFrame({"a": [value]}), [0], [f"r{i}"], shadow=shadow)
    log.close()
    assert calls[0] == 4  # the whole batch in one call first
    assert drops == [(1, "shadow-error")]
    assert log.written == 4 and log.shadow_written == 3
    shadow_rows = pd.concat([pd.read_parquet(f) for f in parquet_files(tmp_path / "shadow")])
    assert sorted(shadow_rows["request_id"]) == ["r0", "r1", "r3"]
