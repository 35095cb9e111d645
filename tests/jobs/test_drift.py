"""The drift job against a real git + DVC repository, and `mlops-bot drift` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.adapters.evidently import DriftConfigError, DriftDataError, load_table, reference_at
from bot.cli import main
from bot.core.config import load_config
from bot.core.models import ModelVersion, RunRecord
from bot.jobs.drift import HEAD_SHA_TAG, champion_sha, check, drift_target

BIN = Path(sys.executable).parent
COLUMNS = [f"f{i}" for i in range(6)]


def sh(cwd: Path, *cmd: str) -> str:
    exe = str(BIN / cmd[0]) if (BIN / cmd[0]).exists() else cmd[0]
    return subprocess.run([exe, *cmd[1:]], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def frame(rows: int, *, seed: int, shift: dict[str, float] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(rng.normal(size=(rows, len(COLUMNS))), columns=COLUMNS)
    for col, by in (shift or {}).items():
        data[col] += by
    data["target"] = rng.integers(0, 2, rows)
    return data


CONFIG = """\
version: 1
models:
  - name: clf
    stage: train
    output: model.pkl
    drift:
      current: prod/*.csv
      reference: data/train.csv
      drift_share: 0.3
"""


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A git + DVC repo whose DVC-tracked training data changed in a 2nd commit: (root, old sha, new sha)."""
    root = tmp_path_factory.mktemp("drift-repo")
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, "dvc", "init", "-q")
    sh(root, "dvc", "config", "core.analytics", "false")
    (root / "data").mkdir()
    (root / ".github").mkdir()
    (root / ".github" / "mlops-bot.yml").write_text(CONFIG)
    frame(1500, seed=1).to_csv(root / "data" / "train.csv", index=False)
    sh(root, "dvc", "add", "-q", "data/train.csv")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "training data v1")
    old = sh(root, "git", "rev-parse", "HEAD")
    # v2: every feature moved by 3 std, so reading the wrong version cannot go unnoticed
    frame(1500, seed=2, shift=dict.fromkeys(COLUMNS, 3.0)).to_csv(root / "data" / "train.csv", index=False)
    sh(root, "dvc", "add", "-q", "data/train.csv")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "training data v2")
    new = sh(root, "git", "rev-parse", "HEAD")
    (root / "prod").mkdir()
    # production looks like v1 except f2
    frame(800, seed=3, shift={"f2": 2.0}).to_csv(root / "prod" / "day1.csv", index=False)
    frame(800, seed=4, shift={"f2": 2.0}).to_csv(root / "prod" / "day2.csv", index=False)
    return root, old, new


@pytest.mark.slow
def test_reference_is_read_at_the_older_git_revision(dvc_repo: tuple[Path, str, str]) -> None:
    root, old, new = dvc_repo
    assert (root / "data" / "train.csv.dvc").exists() and sh(root, "git", "ls-files", "data/train.csv") == ""

    at_old = reference_at(root, "data/train.csv", old)
    at_new = reference_at(root, "data/train.csv.dvc", new)  # the pointer's name works too

    pd.testing.assert_frame_equal(at_old, frame(1500, seed=1), check_exact=False)
    pd.testing.assert_frame_equal(at_new, pd.read_csv(root / "data" / "train.csv"))
    assert at_new["f0"].mean() - at_old["f0"].mean() == pytest.approx(3.0, abs=0.2)


@pytest.mark.slow
def test_a_dvc_file_missing_from_the_workspace_is_read_from_the_cache(
    dvc_repo: tuple[Path, str, str], tmp_path: Path
) -> None:
    root, _, _ = dvc_repo
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(root), str(clone))
    # share the original's cache, as a runner restoring the DVC cache would
    sh(clone, "dvc", "cache", "dir", str(root / ".dvc" / "cache"))
    assert not (clone / "data" / "train.csv").exists()

    table = load_table("data/train.csv", root=clone)
    pd.testing.assert_frame_equal(table, pd.read_csv(root / "data" / "train.csv"))


@pytest.mark.slow
def test_bad_revision_names_the_path_and_the_revision(dvc_repo: tuple[Path, str, str]) -> None:
    root, _, _ = dvc_repo
    with pytest.raises(DriftDataError) as err:
        reference_at(root, "data/train.csv", "0" * 40)
    assert str(err.value).startswith(f"cannot read data/train.csv at {'0' * 40}: ")
    with pytest.raises(DriftDataError) as err:
        reference_at(root, "data/absent.csv", "HEAD")
    assert str(err.value).startswith("cannot read data/absent.csv at HEAD: ")


@pytest.mark.slow
def test_check_compares_production_with_the_champions_training_data(
    dvc_repo: tuple[Path, str, str], tmp_path: Path
) -> None:
    root, old, _ = dvc_repo
    config = load_config((root / ".github" / "mlops-bot.yml").read_text())

    at_champion = check(root, config, model="clf", reference_rev=old, out_dir=tmp_path)
    assert at_champion.drifted_columns == ["f2"]  # the target column is not compared
    assert [c.column for c in at_champion.columns] == COLUMNS
    assert (at_champion.reference_rows, at_champion.current_rows) == (1500, 1600)
    assert at_champion.dataset_drift is False  # 1 of 6 < 0.3

    at_head = check(root, config, model=None, reference_rev=None, out_dir=tmp_path)
    assert at_head.drifted_columns == COLUMNS  # v2 moved everything
    assert at_head.dataset_drift is True


CLI_CASES = [
    # (what is wrong, how to cause it, what the user reads)
    (
        "missing column",
        lambda root: (root / "prod" / "day3.csv").write_text("f0,f1\n1,2\n"),
        "has columns different",
    ),
    (
        "empty file",
        lambda root: (root / "prod" / "day3.csv").write_text(""),
        "prod/day3.csv is empty (0 bytes)",
    ),
    (
        "unreadable",
        lambda root: (root / "prod" / "day3.csv").write_bytes(b"f0,f1\n\xff\xfe\x00,1\n"),
        "cannot read prod/day3.csv: ",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("case", "spoil", "message"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_exits_2_and_names_bad_data(
    dvc_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    spoil: object,
    message: str,
) -> None:
    root, _, _ = dvc_repo
    spoil(root)  # type: ignore[operator]
    try:
        code = main(["drift", "--repo-dir", str(root), "--out", str(tmp_path)])
    finally:
        (root / "prod" / "day3.csv").unlink()
    err = capsys.readouterr().err
    assert code == 2, case
    assert err.startswith("mlops-bot drift: ")
    assert message in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_cli_reports_a_wrong_type_as_broken_data_not_as_drift(
    dvc_repo: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Readable data of the wrong shape is a finding (the schema break the issue reports), not a crash."""
    root, old, _ = dvc_repo
    (root / "prod" / "day3.csv").write_text(",".join([*COLUMNS, "target"]) + "\n" + "x," * 6 + "1\n")
    try:
        code = main(
            [
                "drift",
                "--repo-dir",
                str(root),
                "--out",
                str(tmp_path),
                "--reference-rev",
                old,
                "--json",
                str(tmp_path / "s.json"),
            ]
        )
    finally:
        (root / "prod" / "day3.csv").unlink()
    printed = capsys.readouterr().out
    assert code == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["drift_skipped"].startswith("the data's schema is broken: column 'f0' holds text values")
    assert summary["dataset_drift"] is False and summary["columns"] == []
    assert printed.startswith("clf: drift not judged: the data's schema is broken")


@pytest.mark.slow
def test_cli_writes_the_report_and_the_summary(
    dvc_repo: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, old, _ = dvc_repo
    out = tmp_path / "report"
    code = main(
        [
            "drift",
            "--repo-dir",
            str(root),
            "--out",
            str(out),
            "--reference-rev",
            old,
            "--json",
            str(tmp_path / "s.json"),
        ]
    )
    printed = capsys.readouterr().out

    assert code == 0
    assert printed.splitlines()[0] == "clf: no dataset drift: 1 of 6 columns drifted (17% < drift_share 30%)"
    assert "  drifted: f2" in printed
    assert f"reference: 1,500 rows at {old}; current: 1,600 rows" in printed
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary == json.loads((out / "drift-clf.json").read_text())
    assert summary["drifted_columns"] == ["f2"] and summary["dataset_drift"] is False
    assert (out / "drift-clf.html").stat().st_size > 100_000


@pytest.mark.parametrize(
    ("config", "model", "message"),
    [
        ("models: []", None, "lists no models"),
        (CONFIG, "nope", "no model named 'nope' in .github/mlops-bot.yml; known: clf"),
        (
            CONFIG.replace("    drift:\n", "    unused:\n").split("    unused:")[0],
            None,
            "has no `drift:` section",
        ),
        (
            CONFIG + "  - name: other\n    stage: s\n    output: o.pkl\n",
            None,
            "several models (clf, other); pass --model",
        ),
    ],
)
def test_drift_target_says_what_to_fix(config: str, model: str | None, message: str) -> None:
    with pytest.raises(DriftConfigError) as err:
        drift_target(load_config(config), model)
    assert message in str(err.value)


def test_cli_exits_2_without_a_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", "--repo-dir", str(tmp_path)]) == 2
    assert "no config file at" in capsys.readouterr().err

    bad = tmp_path / "bad.yml"
    bad.write_text(textwrap.dedent("models:\n  - name: x\n    drift: {current: a.csv}\n"))
    assert main(["drift", "--config", str(bad), "--repo-dir", str(tmp_path)]) == 2
    assert "line 3" in capsys.readouterr().err


class StubRegistry:
    """Just the two registry reads `champion_sha` makes."""

    def __init__(self, version: ModelVersion | None, run: RunRecord | None = None) -> None:
        self._version, self._run = version, run

    def version_by_alias(self, model: str, alias: str) -> ModelVersion | None:
        return self._version if alias == "champion" else None

    def run(self, run_id: str) -> RunRecord | None:
        return self._run if self._run and self._run.run_id == run_id else None


@pytest.mark.parametrize(
    ("registry", "expected"),
    [
        (StubRegistry(None), None),
        (StubRegistry(ModelVersion("clf", "3", "r1", tags={HEAD_SHA_TAG: "aaa"})), "aaa"),
        (
            StubRegistry(
                ModelVersion("clf", "3", "r1"), RunRecord("r1", "clf", {}, {}, {HEAD_SHA_TAG: "bbb"})
            ),
            "bbb",
        ),
        (StubRegistry(ModelVersion("clf", "3", "r1"), RunRecord("r1", "clf", {}, {}, {})), None),
    ],
    ids=["no-champion", "version-tag", "run-tag", "untagged"],
)
def test_champion_sha_comes_from_the_version_or_its_run(registry: StubRegistry, expected: str | None) -> None:
    assert champion_sha(registry, "clf") == expected  # type: ignore[arg-type]


@pytest.mark.slow
def test_cli_reads_the_reference_at_the_champions_sha_from_mlflow(
    dvc_repo: tuple[Path, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow import MlflowClient

    root, old, _ = dvc_repo
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("drift", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(experiment, tags={HEAD_SHA_TAG: old})
    client.create_registered_model("clf")
    version = client.create_model_version("clf", (tmp_path / "art").as_uri(), run_id=run.info.run_id)
    client.set_registered_model_alias("clf", "champion", version.version)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    assert main(["drift", "--repo-dir", str(root), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert f"reference: 1,500 rows at {old}" in printed
    assert "  drifted: f2\n" in printed  # v1 data, not HEAD's v2 where every column moved
    assert "note:" not in printed

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert main(["drift", "--repo-dir", str(root), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "at HEAD" in printed and "note: no --reference-rev and no MLflow tracking URI" in printed
