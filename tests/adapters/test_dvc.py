"""The DVC adapter on real repositories: the sample project, a directory remote, real `dvc repro`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.dvc import (
    DvcError,
    DvcMetricsError,
    DvcMissingDataError,
    DvcProject,
    DvcRemoteError,
    DvcStageError,
    Remote,
    init_sample_project,
    read_at_rev,
)
from bot.core import lockfile
from tests.support.sample_repo import TrainedSample, commit_all, git, set_param

DVC = str(Path(sys.executable).parent / "dvc")


def test_stage_describes_the_pipeline_that_repro_runs(sample: Path) -> None:
    with DvcProject(sample) as project:
        stage = project.stage("train")
    assert stage.pipeline == ("prepare", "train")
    assert stage.metrics == ("metrics.json",)
    assert stage.plots == ("plots/roc.csv",)
    assert set(stage.deps) == {"src/train.py", "data/train.csv", "data/test.csv"}
    assert set(stage.pipeline_outs) == {
        "data/train.csv",
        "data/test.csv",
        "model.pkl",
        "metrics.json",
        "plots/roc.csv",
    }
    assert stage.params_files == ("params.yaml",)


def test_an_unknown_stage_names_the_stages_there_are(sample: Path) -> None:
    with DvcProject(sample) as project, pytest.raises(DvcError, match=r"no stage 'fit'.*prepare, train"):
        project.stage("fit")


def test_a_folder_without_dvc_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DvcError, match="not a DVC repository"):
        DvcProject(tmp_path)


@pytest.mark.slow
def test_status_and_repro_tell_what_ran(sample: Path) -> None:
    with DvcProject(sample) as project:
        assert project.status("train") == {}
        assert project.repro("train").ran == ()  # up to date: nothing executes

        set_param(sample, "C: 1.0", "C: 0.05")
        assert "train" in project.status("train")
        result = project.repro("train")
        assert result.ran == ("train",)  # prepare's params did not change
        assert "Running stage 'train'" in result.log_tail
        assert project.status("train") == {}


@pytest.mark.slow
def test_reads_params_metrics_and_plots_through_dvc(sample: Path, trained: TrainedSample) -> None:
    with DvcProject(sample) as project:
        set_param(sample, "C: 1.0", "C: 0.05")
        project.repro("train")
        commit_all(sample, "C=0.05")
        params = project.params(["prepare", "train"])
        metrics = project.metrics(["metrics.json"])
        base_metrics = project.metrics(["metrics.json"], rev=trained.sha)
        diff = project.params_diff(trained.sha, ["prepare", "train"])
        [roc] = project.plots(["train"], top_level=True)

    assert params == {
        "data.snapshot": "2024-01",
        "prepare.test_size": 0.25,
        "prepare.seed": 0,
        "train.C": 0.05,
        "train.max_iter": 1000,
    }
    assert metrics == json.loads((sample / "metrics.json").read_text())
    assert base_metrics == json.loads((trained.root / "metrics.json").read_text())
    assert base_metrics != metrics
    assert diff == {"train.C": {"old": 1.0, "new": 0.05}}
    [series] = roc.series
    assert (series.source, series.x_field, series.y_field) == ("plots/roc.csv", "fpr", "tpr")
    assert (series.x[0], series.y[0], series.x[-1], series.y[-1]) == (0.0, 0.0, 1.0, 1.0)


def test_metrics_at_a_commit_before_the_pipeline_are_empty(sample: Path) -> None:
    first = git(sample, "rev-list", "--max-parents=0", "HEAD")
    with DvcProject(sample) as project:
        assert project.metrics(["metrics.json"], rev=first) == {}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not json at all {", "metrics.json"),
        ('{"note": "text only"}', "no numeric values"),
    ],
)
def test_a_bad_metrics_file_names_the_file(sample: Path, content: str, reason: str) -> None:
    path = sample / "metrics.json"
    path.unlink()  # replace, never write through: with a link-type DVC cache the file IS the cache
    path.write_text(content)
    with DvcProject(sample) as project, pytest.raises(DvcMetricsError, match=reason) as caught:
        project.metrics(["metrics.json"])
    assert caught.value.path == "metrics.json"


def test_a_metrics_file_nobody_wrote_is_named(sample: Path) -> None:
    with DvcProject(sample) as project, pytest.raises(DvcMetricsError, match="does not exist") as caught:
        project.metrics(["metrics.json", "scores.json"])
    assert caught.value.path == "scores.json"


def test_lock_facts_identify_the_model_and_its_inputs(sample: Path) -> None:
    lock_text = (sample / "dvc.lock").read_text()
    with DvcProject(sample) as project:
        assert project.output_md5("train", "model.pkl") == lockfile.output_hash(
            lock_text, "train", "model.pkl"
        )
        assert len(project.output_md5("train", "model.pkl")) == 32
        assert project.output_md5("train", "nope.pkl") == ""
        assert project.lock_hash() == lockfile.lock_hash(lock_text)
        lineage = project.input_md5s("train", extra=["data/train.csv", "src/prepare.py"])
    assert set(lineage) == {"src/train.py", "data/train.csv", "data/test.csv", "src/prepare.py"}
    assert all(len(md5) == 32 for md5 in lineage.values())


def test_a_failing_stage_carries_the_tail_of_its_log(sample: Path) -> None:
    script = sample / "src" / "train.py"
    script.write_text(
        script.read_text().replace(
            "def main() -> None:\n", "def main() -> None:\n    raise RuntimeError('boom in training')\n"
        )
    )
    with DvcProject(sample) as project, pytest.raises(DvcStageError) as caught:
        project.repro("train")
    error = caught.value
    assert error.stage == "train" and error.returncode != 0
    assert "RuntimeError: boom in training" in error.log_tail
    assert "failed to reproduce 'train'" in str(error)


def test_push_then_pull_into_a_fresh_clone(trained: TrainedSample, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(trained.root), str(clone))
    assert not (clone / "model.pkl").exists()
    with DvcProject(clone) as project:
        assert project.default_remote() == Remote("local", str(trained.remote))
        assert project.pull("train") == []
    for name in ("model.pkl", "metrics.json", "data/train.csv"):
        assert (clone / name).read_bytes() == (trained.root / name).read_bytes()


def test_pull_tolerates_missing_outputs_the_stage_rebuilds_but_not_missing_inputs(
    trained: TrainedSample, tmp_path: Path
) -> None:
    # A repository whose remote is empty, with one input added by `dvc add` (not made by any stage).
    origin = trained.copy(tmp_path / "origin")
    (origin / "extra.csv").write_text("a,b\n1,2\n")
    subprocess.run([DVC, "add", "-q", "extra.csv"], cwd=origin, check=True)
    empty_remote = tmp_path / "empty-remote"
    empty_remote.mkdir()
    subprocess.run([DVC, "remote", "modify", "local", "url", str(empty_remote)], cwd=origin, check=True)
    commit_all(origin, "extra input, empty remote")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))

    with DvcProject(clone) as project:
        stage = project.stage("train")
        missing = project.pull("train", rebuildable=stage.pipeline_outs)
        assert set(missing) == set(stage.pipeline_outs)
        with pytest.raises(DvcMissingDataError) as caught:
            project.pull(rebuildable=stage.pipeline_outs)  # everything, so extra.csv too
    assert caught.value.paths == ["extra.csv"]
    message = str(caught.value)
    assert (
        "extra.csv" in message
        and "'local'" in message
        and str(empty_remote) in message
        and "dvc push" in message
    )


def test_pull_replaces_outputs_a_failed_run_left_but_not_other_unsaved_files(sample: Path) -> None:
    saved = (sample / "model.pkl").read_bytes()
    (sample / "model.pkl").write_bytes(b"half-written by a failed run")  # in no cache, not in dvc.lock
    with DvcProject(sample) as project:
        with pytest.raises(DvcError) as caught:
            project.pull("train")  # model.pkl is not something the caller will rebuild
        assert "model.pkl" in str(caught.value) and "dvc checkout --force" in str(caught.value)
        assert project.pull("train", rebuildable=project.stage("train").pipeline_outs) == []
    assert (sample / "model.pkl").read_bytes() == saved


def test_a_remote_whose_plugin_is_missing_is_one_line_naming_the_package(sample: Path) -> None:
    subprocess.run(
        [DVC, "remote", "add", "-q", "-d", "-f", "drive", "gdrive://folder-id/x"], cwd=sample, check=True
    )
    with DvcProject(sample) as project:
        assert project.pull("train") == []  # all cached: the remote is never opened
        with pytest.raises(DvcRemoteError) as caught:
            project.push("train")
    message = str(caught.value)
    assert "\n" not in message and "'drive'" in message and "`pip install dvc-gdrive`" in message


@pytest.mark.slow
def test_read_at_rev_gives_the_data_of_an_older_commit(sample: Path, trained: TrainedSample) -> None:
    old = (sample / "data" / "train.csv").read_text()
    with DvcProject(sample) as project:
        set_param(sample, 'snapshot: "2024-01"', 'snapshot: "2024-02"')
        project.repro("train")
        project.push()
    commit_all(sample, "new snapshot")
    assert (sample / "data" / "train.csv").read_text() != old
    assert read_at_rev(sample, "data/train.csv", trained.sha) == old
    with pytest.raises(DvcError, match=r"cannot read nope\.csv"):
        read_at_rev(sample, "nope.csv", trained.sha)


def test_init_sample_project_makes_a_committed_git_and_dvc_repo(tmp_path: Path) -> None:
    root = init_sample_project(tmp_path / "fresh", remote=tmp_path / "remote")
    assert git(root, "status", "--porcelain") == ""
    assert git(root, "log", "--format=%an", "-1") == "mlops-bot"
    assert (tmp_path / "remote").is_dir()
    config = (root / ".dvc" / "config").read_text()
    assert "analytics = False" in config and "remote = local" in config
    with DvcProject(root) as project:
        assert project.stage("train").pipeline == ("prepare", "train")
    with pytest.raises(DvcError, match="not empty"):
        init_sample_project(root)


def test_the_sample_template_is_what_the_repo_builder_copies(tmp_path: Path) -> None:
    from bot.resources import template_path

    root = init_sample_project(tmp_path / "fresh")
    template = template_path("project")
    for rel in ("dvc.yaml", "params.yaml", "src/train.py", ".github/mlops-bot.yml"):
        assert (root / rel).read_bytes() == (template / rel).read_bytes()
    assert "remote" not in (root / ".dvc" / "config").read_text()


# -- the plot formats DVC reads, and the DVC files it cannot ---------------------------------------------


def plot_project(tmp_path: Path, dvc_yaml: str, files: dict[str, str]) -> Path:
    from tests.support.dvc_projects import build

    project = build(
        tmp_path / "repo", {"dvc.yaml": dvc_yaml, **files}, model="m", stage="s", remote=tmp_path / "r"
    )
    return project.root


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "roc.json",
            json.dumps({"roc": [{"fpr": 0, "tpr": 0}, {"fpr": 0.5, "tpr": 0.9}, {"fpr": 1, "tpr": 1}]}),
        ),
        ("roc.json", json.dumps([{"fpr": 0, "tpr": 0}, {"fpr": 0.5, "tpr": 0.9}, {"fpr": 1, "tpr": 1}])),
        ("roc.csv", "fpr,tpr\n0,0\n0.5,0.9\n1,1\n"),
        ("roc.tsv", "fpr\ttpr\n0\t0\n0.5\t0.9\n1\t1\n"),
        ("roc.yaml", "- {fpr: 0, tpr: 0}\n- {fpr: 0.5, tpr: 0.9}\n- {fpr: 1, tpr: 1}\n"),
    ],
    ids=["dvclive-dict-of-lists", "json-list", "csv", "tsv", "yaml"],
)
def test_every_format_dvc_reads_gives_the_same_series(tmp_path: Path, name: str, content: str) -> None:
    root = plot_project(tmp_path, f"plots:\n  - {name}:\n      x: fpr\n      y: tpr\n", {name: content})
    with DvcProject(root) as project:
        [plot] = project.plots([], top_level=True)
    assert plot.error == ""
    [series] = plot.series
    assert (series.x, series.y) == ([0.0, 0.5, 1.0], [0.0, 0.9, 1.0])


def test_top_level_plots_keep_dvc_yaml_order_titles_and_overlays(tmp_path: Path) -> None:
    dvc_yaml = (
        "plots:\n"
        "  - Loss:\n"
        "      y:\n"
        "        train.json: loss\n"
        "        test.json: loss\n"
        "  - b.png\n"
        "  - a.csv:\n"
        "      title: Accuracy\n"
        "      template: confusion\n"
        "      x: actual\n"
        "      y: predicted\n"
    )
    files = {
        "train.json": json.dumps({"loss": [{"loss": 3}, {"loss": 2}]}),
        "test.json": json.dumps({"loss": [{"loss": 4}, {"loss": 3.5}]}),
        "b.png": "png",
        "a.csv": "actual,predicted\n0,1\n1,1\n",
    }
    with DvcProject(plot_project(tmp_path, dvc_yaml, files)) as project:
        loss, image, confusion = project.plots([], top_level=True)
        assert project.plots([], top_level=False) == []
        assert [p.id for p in project.plots([], top_level=False, named=["a.csv"])] == ["a.csv"]

    assert (loss.id, loss.title, [s.source for s in loss.series]) == (
        "Loss",
        "Loss",
        ["train.json", "test.json"],
    )
    assert loss.series[1].x == [0.0, 1.0] and loss.series[1].y == [4.0, 3.5]  # no x: the step, as DVC does
    assert (image.template, image.image) == ("image", "b.png")
    assert confusion.title == "Accuracy" and confusion.series[0].x == ["0", "1"]  # labels stay text


def test_a_missing_plot_file_is_named_not_raised(tmp_path: Path) -> None:
    root = plot_project(tmp_path, "plots:\n  - gone.csv\n", {})
    with DvcProject(root) as project:
        [plot] = project.plots([], top_level=True)
    assert plot.id == "gone.csv" and "gone.csv" in plot.error and plot.series == []


def test_a_dvc_1_lock_file_says_how_to_regenerate_it(tmp_path: Path) -> None:
    from tests.support.dvc_projects import dvc1_lock_project

    project = dvc1_lock_project(tmp_path / "repo", remote=tmp_path / "remote")
    with DvcProject(project.root) as dvc, pytest.raises(DvcError) as caught:
        dvc.stage("train")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("dvc.lock is in the format of DVC 1.x") and "`dvc repro`" in message


def test_an_invalid_dvc_yaml_is_a_dvc_error(tmp_path: Path) -> None:
    root = plot_project(tmp_path, "stages:\n  train:\n    command: python x.py\n", {})
    with DvcProject(root) as dvc, pytest.raises(DvcError, match=r"dvc\.yaml"):
        dvc.stage("train")
