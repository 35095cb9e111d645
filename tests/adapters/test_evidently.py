"""Real Evidently drift reports on data with known shifts, the clear errors bad data gets, and the data-quality
and performance facts measured on real frames."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.adapters.evidently import (
    DriftConfigError,
    DriftDataError,
    load_table,
    measure_performance,
    measure_quality,
    run_drift,
    score,
    summary_from_dict,
)
from bot.core.config import DriftSpec, PerformanceSpec, QualitySpec
from bot.core.models import DriftSummary
from bot.core.monitoring import judge_quality

COLUMNS = [f"f{i}" for i in range(10)]
SHIFTED = ["f3", "f7"]


def make_frames(rows: int = 2000, *, shift: float = 2.0, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ten numeric columns with different scales; the current side has SHIFTED moved by `shift` std."""
    rng = np.random.default_rng(seed)
    scale, offset = rng.uniform(0.5, 5, len(COLUMNS)), rng.uniform(-10, 10, len(COLUMNS))
    reference = pd.DataFrame(rng.normal(size=(rows, len(COLUMNS))) * scale + offset, columns=COLUMNS)
    current = pd.DataFrame(rng.normal(size=(rows, len(COLUMNS))) * scale + offset, columns=COLUMNS)
    for col in SHIFTED:
        current[col] += shift * reference[col].std()
    return reference, current


def spec(**overrides: Any) -> DriftSpec:
    return DriftSpec(current="prod.csv", reference="data/train.csv", **overrides)


def drifted(summary: DriftSummary) -> list[str]:
    return sorted(summary.drifted_columns)


@pytest.fixture(scope="module")
def shifted_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_frames()


@pytest.mark.slow  # the first Evidently import alone takes ~4 s
def test_known_shift_is_found_on_exactly_the_shifted_columns(
    shifted_frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    reference, current = shifted_frames
    summary = run_drift(reference, current, spec(), model="iris", out_dir=tmp_path)

    assert drifted(summary) == SHIFTED
    assert [c.column for c in summary.columns] == COLUMNS
    assert summary.share_drifted == pytest.approx(0.2)
    assert summary.dataset_drift is False  # 2 of 10 is below the default drift_share 0.5
    assert (summary.reference_rows, summary.current_rows) == (2000, 2000)
    assert (summary.reference_sampled, summary.current_sampled) == (2000, 2000)

    html = tmp_path / "drift-iris.html"
    assert summary.report_path == str(html)
    assert html.stat().st_size > 100_000 and b"<html" in html.read_bytes()[:2000].lower()
    written = json.loads((tmp_path / "drift-iris.json").read_text())
    assert written["drifted_columns"] == SHIFTED
    assert summary_from_dict(written) == summary


@pytest.mark.slow
def test_dataset_drift_when_the_share_reaches_drift_share(
    shifted_frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    reference, current = shifted_frames
    summary = run_drift(reference, current, spec(drift_share=0.2), model="m", out_dir=tmp_path)
    assert summary.dataset_drift is True
    assert summary.drift_share == 0.2


@pytest.mark.slow
def test_no_shift_means_no_drift(tmp_path: Path) -> None:
    reference, current = make_frames(shift=0.0, seed=1)
    summary = run_drift(reference, current, spec(), model="m", out_dir=tmp_path)
    assert drifted(summary) == []
    assert summary.dataset_drift is False
    assert summary.share_drifted == 0.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # f3 moved by 2 std scores ~2 (normed Wasserstein): a threshold of 3 tolerates it.
        ({"per_column_threshold": {"f3": 3.0}}, ["f7"]),
        # A global threshold applies to every column; a per-column one wins over it.
        ({"threshold": 3.0, "per_column_threshold": {"f7": 0.1}}, ["f7"]),
        # Kolmogorov-Smirnov reports a p-value: drift when it is *below* the threshold.
        ({"per_column_method": {"f3": "ks"}, "per_column_threshold": {"f3": 1e-300}}, ["f3", "f7"]),
        ({"method": "psi", "threshold": 0.2}, ["f3", "f7"]),
    ],
)
def test_method_and_threshold_overrides_change_verdicts(
    shifted_frames: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    overrides: dict[str, Any],
    expected: list[str],
) -> None:
    reference, current = shifted_frames
    summary = run_drift(reference, current, spec(**overrides), model="m", out_dir=tmp_path)
    assert drifted(summary) == expected
    by_column = {c.column: c for c in summary.columns}
    for col, threshold in overrides.get("per_column_threshold", {}).items():
        assert by_column[col].threshold == threshold
    for col, method in overrides.get("per_column_method", {}).items():
        assert by_column[col].method == method


@pytest.mark.slow
def test_sampling_caps_each_side_and_records_the_sizes(tmp_path: Path) -> None:
    reference, current = make_frames(rows=5000)
    capped = spec(sample_cap=1500)
    first = run_drift(reference, current, capped, model="m", out_dir=tmp_path / "a")
    again = run_drift(reference, current, capped, model="m", out_dir=tmp_path / "b")

    assert (first.reference_rows, first.current_rows) == (5000, 5000)
    assert (first.reference_sampled, first.current_sampled) == (1500, 1500)
    assert drifted(first) == SHIFTED
    assert replace(again, report_path=first.report_path) == first  # a fixed seed draws the same rows


@pytest.mark.slow
def test_types_come_from_dtypes_and_the_target_column_is_left_out(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 1500
    reference = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "target": rng.integers(0, 2, n),
        }
    )
    current = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], n, p=[0.8, 0.1, 0.1]),
            "target": 1 - reference["target"],
        }
    )
    inferred = run_drift(reference, current, spec(), model="m", out_dir=tmp_path)
    assert [c.column for c in inferred.columns] == ["x", "colour"]
    assert drifted(inferred) == ["colour"]
    assert inferred.columns[1].method == "Jensen-Shannon distance"  # treated as categorical

    listed = run_drift(
        reference,
        current,
        spec(columns=["x", "target"], categorical_columns=["target"]),
        model="m",
        out_dir=tmp_path,
    )
    assert [c.column for c in listed.columns] == ["x", "target"]


# --------------------------------------------------------------------------------------------------
# Bad data and bad config: a clear message, before Evidently runs.


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda ref, cur: (ref, cur.drop(columns=["f2", "f5"])), "current data lacks column(s) f2, f5"),
        (lambda ref, cur: (ref, cur.iloc[0:0]), "the current data is empty (0 rows)"),
        (lambda ref, cur: (ref.iloc[0:0], cur), "the reference data is empty (0 rows)"),
        (
            lambda ref, cur: (ref, cur.assign(f4=["n/a", *cur["f4"].iloc[1:].astype(str)])),
            "column 'f4' is numeric in the reference data but holds text in the current data "
            "(dtype object, e.g. 'n/a')",
        ),
        (lambda ref, cur: (ref, cur.assign(f0=np.nan)), "column 'f0' has no values in the current data"),
    ],
    ids=["missing-current", "empty-current", "empty-reference", "wrong-type", "all-empty"],
)
def test_bad_data_is_named(mangle: Any, message: str, tmp_path: Path) -> None:
    reference, current = mangle(*make_frames(rows=50))
    with pytest.raises(DriftDataError) as err:
        run_drift(reference, current, spec(), model="m", out_dir=tmp_path)
    assert message in str(err.value)
    assert not (tmp_path / "drift-m.html").exists()


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"columns": ["f1", "nope"]}, DriftDataError, "reference data lacks column(s) nope (it has: f0, f1"),
        ({"per_column_threshold": {"nope": 0.2}}, DriftConfigError, "not being compared: nope"),
        ({"method": "magic"}, DriftConfigError, "unknown drift method 'magic' for column 'f0'; known: "),
        (
            {"numerical_columns": ["f1"], "categorical_columns": ["f1"]},
            DriftConfigError,
            "both numerical and",
        ),
    ],
)
def test_bad_drift_config_is_named(overrides: dict[str, Any], error: type[Exception], message: str) -> None:
    reference, current = make_frames(rows=50)
    with pytest.raises(error) as err:
        run_drift(reference, current, spec(**overrides), model="m", out_dir=Path("unused"))
    assert message in str(err.value)


# --------------------------------------------------------------------------------------------------
# Reading tables.


def test_load_table_reads_csv_parquet_and_concatenates_a_glob(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]})
    (tmp_path / "prod").mkdir()
    frame.iloc[:2].to_csv(tmp_path / "prod" / "day1.csv", index=False)
    frame.iloc[2:].to_csv(tmp_path / "prod" / "day2.csv", index=False)
    frame.to_parquet(tmp_path / "all.parquet")
    with gzip.open(tmp_path / "all.csv.gz", "wt") as fh:
        frame.to_csv(fh, index=False)

    pd.testing.assert_frame_equal(load_table("prod/*.csv", root=tmp_path), frame)
    pd.testing.assert_frame_equal(
        load_table("prod", root=tmp_path), frame
    )  # a folder reads every table in it
    pd.testing.assert_frame_equal(load_table("all.parquet", root=tmp_path), frame)
    pd.testing.assert_frame_equal(load_table("all.csv.gz", root=tmp_path), frame)


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty.csv is empty (0 bytes)"),
        ("blank.csv", b"\n\n", "blank.csv is empty (no header, no rows)"),
        ("header.csv", b"a,b\n", "header.csv has a header but no rows"),
        ("broken.parquet", b"PAR1 this is not parquet", "cannot read broken.parquet: "),
        ("broken.csv.gz", b"not gzip at all", "cannot read broken.csv.gz: "),
        ("latin.csv", b"a,b\n1,\xff\xfe\n", "cannot read latin.csv: "),
        (
            "data.xlsx",
            b"PK",
            "cannot read data.xlsx: only CSV (.csv, .tsv) and Parquet (.parquet) are supported",
        ),
        ("ragged.csv", b"a,b\n1,2\n1,2,3,4\n", "cannot read ragged.csv: Error tokenizing data"),
    ],
)
def test_unusable_files_are_named(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    write_bytes(tmp_path / name, content)
    with pytest.raises(DriftDataError) as err:
        load_table(name, root=tmp_path)
    assert message in str(err.value)


def test_missing_files_and_globs_are_named(tmp_path: Path) -> None:
    with pytest.raises(DriftDataError) as err:
        load_table("prod/*.csv", root=tmp_path)
    assert "no CSV or Parquet file matches 'prod/*.csv'" in str(err.value)

    with pytest.raises(DriftDataError) as err:
        load_table("prod/today.csv", root=tmp_path)  # not in the workspace, and no DVC repo to fetch it from
    assert str(err.value).startswith(
        "cannot read prod/today.csv (not in the workspace, and DVC could not fetch it): "
    )


def test_glob_files_must_share_a_header(tmp_path: Path) -> None:
    write_bytes(tmp_path / "p" / "1.csv", b"a,b\n1,2\n")
    write_bytes(tmp_path / "p" / "2.csv", b"a,c\n1,2\n")
    with pytest.raises(DriftDataError, match=r"2.csv has columns different from 1.csv"):
        load_table("p/*.csv", root=tmp_path)


# -- data quality and performance facts ------------------------------------------------------------------------


def quality_spec(**quality: Any) -> DriftSpec:
    return spec(quality=QualitySpec.model_validate(quality))


def test_quality_facts_of_clean_data(shifted_frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, _ = shifted_frames
    current = reference.sample(n=500, random_state=1).reset_index(drop=True)
    facts = measure_quality(reference, current, quality_spec(range_margin=0.0))
    assert [c.column for c in facts.columns] == COLUMNS
    assert all(c.expected == c.found == "number" and c.missing_share == 0 for c in facts.columns)
    assert all(
        c.out_of_range_share == 0 for c in facts.columns
    )  # a sample of the reference stays in its range
    assert judge_quality(facts, quality_spec(range_margin=0.0).quality).status == "pass"


def test_quality_facts_name_every_kind_of_break(shifted_frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, _ = shifted_frames
    messy = reference.head(400).copy()
    messy = pd.concat([messy, messy.head(100)], ignore_index=True)  # 100 of 500 rows repeat
    messy.loc[150:199, "f1"] = np.nan  # 10 % empty
    messy["f2"] = reference["f2"].max() + 1000.0  # every value far above the training range
    broken = messy.drop(columns="f9").astype({"f5": object})
    broken.loc[300, "f5"] = "1,5"  # a decimal comma: text where numbers were
    quality = quality_spec(range_margin=0.1, max_missing_share=0.05, max_duplicate_share=0.1).quality

    facts = measure_quality(reference, broken, spec(quality=quality))
    by = {c.column: c for c in facts.columns}
    assert by["f9"].found == "absent"
    assert (by["f5"].found, by["f5"].example) == ("text", "1,5")
    verdict = judge_quality(facts, quality)
    assert verdict.status == "schema-break" and len(verdict.problems) == 2  # f9 missing, f5 text

    facts = measure_quality(reference, messy, spec(quality=quality))
    by = {c.column: c for c in facts.columns}
    assert by["f1"].missing_share == pytest.approx(0.1)
    assert by["f2"].out_of_range_share == 1.0 and by["f2"].low is not None
    assert facts.duplicate_share == pytest.approx(0.2)
    verdict = judge_quality(facts, quality)
    assert verdict.status == "fail"
    assert [p.split(" ")[1] for p in verdict.problems[:2]] == ["'f1'", "'f2'"]
    assert "20% of the rows repeat an earlier row" in verdict.problems[-1]


def test_explicit_ranges_and_the_label_column(shifted_frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = shifted_frames
    reference = reference.assign(y=0)
    quality = QualitySpec.model_validate({"ranges": {"f0": {"min": 1e9}}})
    facts = measure_quality(reference, current, spec(quality=quality), label="y")
    assert "y" not in [c.column for c in facts.columns]  # labels arrive late: their absence is no break
    by = {c.column: c for c in facts.columns}
    assert (by["f0"].low, by["f0"].high, by["f0"].out_of_range_share) == (1e9, None, 1.0)
    assert by["f1"].out_of_range_share is None  # no range configured, no margin: not checked


@pytest.mark.parametrize(
    ("name", "truth", "predicted", "expected"),
    [
        ("accuracy", [0, 1, 1, 0], [0, 1, 0, 0], 0.75),
        ("f1", [0, 1, 1, 0], [0, 1, 0, 0], 2 / 3),
        ("precision", [0, 1, 1, 0], [1, 1, 0, 0], 0.5),
        ("recall", ["a", "b", "c", "a"], ["a", "b", "b", "a"], (1 + 1 + 0) / 3),  # multiclass: macro
        ("balanced_accuracy", [0, 0, 0, 1], [0, 0, 0, 0], 0.5),
        ("mae", [1.0, 2.0], [2.0, 4.0], 1.5),
        ("rmse", [0.0, 0.0], [3.0, 4.0], (12.5) ** 0.5),
        ("r2", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 1.0),
        ("r2", [1.0], [2.0], None),  # undefined on one row
    ],
)
def test_scores_are_sklearns(
    name: str, truth: list[Any], predicted: list[Any], expected: float | None
) -> None:
    value = score(name, np.array(truth), np.array(predicted))
    assert value == (pytest.approx(expected) if expected is not None else None)


def test_performance_facts_need_labels_and_a_champion() -> None:
    perf = PerformanceSpec.model_validate({"label": "y", "min_rows": 3, "metrics": [{"name": "accuracy"}]})
    data = pd.DataFrame({"x": [0, 1, 0, 1], "y": [0, 1, None, 0]})
    predict_x = lambda frame: frame["x"].to_numpy()  # noqa: E731  # a "model" that answers its input

    assert measure_performance(data.drop(columns="y"), perf, predict_x).status == "no-labels"
    scored = measure_performance(data, perf, predict_x)
    assert (scored.status, scored.labelled_rows, scored.scores[0].value) == (
        "scored",
        3,
        pytest.approx(2 / 3),
    )
    few = measure_performance(data.head(2), perf, predict_x)
    assert few.status == "no-labels" and "2 labelled row(s); scoring needs at least 3" in few.note
    assert measure_performance(data, perf, None, unavailable="no champion").note == "no champion"

    def broken(frame: pd.DataFrame) -> Any:
        raise ValueError("Failed to enforce schema: column 'z' missing\ntraceback...")

    failed = measure_performance(data, perf, broken)
    assert failed.status == "unavailable"
    assert failed.note == "the champion could not predict: Failed to enforce schema: column 'z' missing"
