"""`drift.current: served` reads what the traffic log wrote: the window's rows as the model's inputs, labels
joined by request id, and the duplicate, late and unknown labels counted instead of crashing the check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from bot.adapters.evidently import DriftDataError
from bot.adapters.evidently.served import record_check, served_current
from bot.adapters.traffic_log import TrafficLog, write_labels
from bot.core.config import DriftSpec
from bot.core.config.traffic import LastWindow
from bot.core.config.traffic import TrafficLog as TrafficSpec

NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)


def served(location: Path, at: dt.datetime, ids: list[str], values: list[float], version: str = "3") -> None:
    log = TrafficLog(str(location), model_version=version, clock=at.timestamp)
    log.record(pd.DataFrame({"x": values, "label": [9.0] * len(values)}), [0] * len(ids), ids)
    log.close()


@pytest.fixture
def traffic(tmp_path: Path) -> Path:
    location = tmp_path / "traffic"
    served(location, NOW - dt.timedelta(days=3), ["old-1", "old-2"], [1.0, 2.0], version="2")
    served(location, NOW - dt.timedelta(hours=5), ["a", "b", "c"], [3.0, 4.0, 5.0])
    served(location, NOW - dt.timedelta(hours=1), ["d"], [6.0])
    write_labels(
        str(location), ["a", "b", "a"], [1, 0, 0], received_at=(NOW - dt.timedelta(hours=2)).timestamp()
    )
    # a label folder dated before any window read here: never read (its labels came before these rows)
    write_labels(str(location), ["old-2"], [1], received_at=(NOW - dt.timedelta(days=3)).timestamp())
    drop = location / "labels" / "dropped-by-hand.csv"
    drop.write_text("request_id,label\nd,1\nold-1,1\nnever-served,0\n")
    return location


def test_the_window_rows_come_back_as_inputs_with_labels_joined(tmp_path: Path, traffic: Path) -> None:
    current, facts = served_current(
        TrafficSpec(location=traffic.as_uri()),
        LastWindow(last="1d"),
        root=tmp_path,
        model="clf",
        now=NOW,
        label="target",
    )
    # an input column named like the label column is the input's, under its own name
    assert list(current.columns) == ["x", "label", "target"]
    assert list(current["x"]) == [3.0, 4.0, 5.0, 6.0]
    # "a" was labelled twice: the latest label (0) counts
    assert list(current["target"].astype("Int64")) == [0, 0, pd.NA, 1]
    assert (facts.rows, facts.joined, facts.labels) == (4, 3, 6)
    assert (facts.duplicate, facts.late, facts.unknown) == (1, 1, 1)
    assert facts.versions == (("3", 4),)
    assert facts.window == "last 1d"


def test_since_last_check_starts_where_the_previous_check_ended(tmp_path: Path, traffic: Path) -> None:
    spec = DriftSpec(
        current="served",
        reference="train.csv",
        window="since-last-check",
        traffic=TrafficSpec(location=traffic.as_uri()),
    )

    def check(now: dt.datetime, *, finished: bool = True) -> tuple[list[float], str]:
        current, facts = served_current(
            spec.traffic, spec.window, root=tmp_path, model="clf", now=now, label=None
        )
        if finished:
            record_check(spec, facts, root=tmp_path, model="clf")
        return list(current["x"]), facts.window

    assert check(NOW - dt.timedelta(hours=3)) == ([1.0, 2.0, 3.0, 4.0, 5.0], "last 7d (no earlier check)")
    rows, window = check(NOW, finished=False)  # a check that failed after reading moves nothing on
    assert rows == [6.0] and window == "since the check at 2026-12-10T09:00:00+00:00"
    assert check(NOW)[0] == [6.0]
    assert check(NOW)[0] == [6.0]  # the same check run again reads the same rows


def test_no_traffic_in_the_window_says_so(tmp_path: Path, traffic: Path) -> None:
    with pytest.raises(DriftDataError, match="the service logged no traffic last 1h"):
        served_current(
            TrafficSpec(location="traffic"),
            LastWindow(last="1h"),
            root=tmp_path,
            model="clf",
            now=NOW - dt.timedelta(hours=2),
            label=None,
        )


def test_a_label_file_without_the_columns_is_named(tmp_path: Path, traffic: Path) -> None:
    (traffic / "labels" / "bad.csv").write_text("id,truth\na,1\n")
    with pytest.raises(
        DriftDataError, match=r"label file labels/bad.csv lacks column\(s\) request_id, label"
    ):
        served_current(
            TrafficSpec(location="traffic"), LastWindow(), root=tmp_path, model="clf", now=NOW, label="y"
        )


def test_any_fsspec_url_holds_the_log(tmp_path: Path) -> None:
    """The same code on a URL (fsspec's in-memory filesystem here; s3:// the same way with s3fs installed)."""
    location = "memory://mlops-bot-traffic-test"
    served_at = NOW - dt.timedelta(hours=1)
    log = TrafficLog(location, model_version="5", clock=served_at.timestamp)
    log.record(pd.DataFrame({"x": [1.0, 2.0]}), [1, 0], ["m-0", "m-1"])
    log.close()
    write_labels(location, ["m-1"], [0], received_at=NOW.timestamp())
    current, facts = served_current(
        TrafficSpec(location=location), LastWindow(), root=tmp_path, model="clf", now=NOW, label="y"
    )
    assert log.written == 2
    assert list(current["x"]) == [1.0, 2.0] and facts.versions == (("5", 2),)
    assert (facts.joined, facts.unknown) == (1, 0)


def test_an_unreachable_log_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(DriftDataError, match=r"cannot read the traffic log at nosuchscheme://bucket/x: "):
        served_current(
            TrafficSpec(location="nosuchscheme://bucket/x"),
            LastWindow(),
            root=tmp_path,
            model="clf",
            now=NOW,
            label=None,
        )


def test_a_fixed_window_writes_nothing_into_the_log(tmp_path: Path, traffic: Path) -> None:
    served_current(
        TrafficSpec(location="traffic"), LastWindow(), root=tmp_path, model="clf", now=NOW, label=None
    )
    assert not (traffic / "checks").exists()  # a read-only bucket is enough for `window: {last: ...}`


def test_a_label_is_counted_by_the_check_after_it_came_back_never_again(tmp_path: Path) -> None:
    """Late and unknown labels are news once: the check after they came back counts them; the next check,
    which no new label reached, reports none (it used to count every label of the day again)."""
    location = tmp_path / "traffic"
    spec = DriftSpec(
        current="served",
        reference="train.csv",
        window="since-last-check",
        traffic=TrafficSpec(location=location.as_uri()),
    )
    start = NOW - dt.timedelta(hours=6)

    def check(now: dt.datetime) -> tuple[int, int, int]:
        _, facts = served_current(
            spec.traffic, spec.window, root=tmp_path, model="clf", now=now, label="target"
        )
        record_check(spec, facts, root=tmp_path, model="clf")
        return facts.joined, facts.late, facts.unknown

    served(location, start, ["p1", "p2"], [1.0, 2.0])
    assert check(start + dt.timedelta(hours=1)) == (0, 0, 0)
    write_labels(
        str(location), ["p1", "ghost"], [1, 0], received_at=(start + dt.timedelta(hours=2)).timestamp()
    )
    served(location, start + dt.timedelta(hours=3), ["q1"], [3.0])
    write_labels(
        str(location), ["q1"], [1], received_at=(start + dt.timedelta(hours=3, minutes=5)).timestamp()
    )
    assert check(start + dt.timedelta(hours=4)) == (1, 1, 1)
    served(location, start + dt.timedelta(hours=5), ["q2"], [4.0])
    assert check(start + dt.timedelta(hours=6)) == (0, 0, 0)
