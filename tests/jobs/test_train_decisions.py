"""What `train` decides between DVC and MLflow, tested through a small fake of the DVC port
(`bot.ports.TrainingProject`) and of the registry calls training makes: the order of effects and what a
failure of one phase does to the next, which a real DVC repository and MLflow store can hardly be made to show.

The real DVC + MLflow paths are in test_train.py, test_train_remotes.py and test_train_projects.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.mlflow import ModelLogError
from bot.core.config import RepoConfig, load_config
from bot.core.dvc import DvcMissingDataError, DvcRemoteError, Remote, ReproResult, StageFiles
from bot.core.models import RunRecord, TrainResult
from bot.core.tags import RunTags
from bot.jobs.train import TrainContext, train
from bot.ports import TrainingProject

CONFIG = """\
models:
  - name: churn
    stage: train
    output: model.pkl
    metrics:
      - name: accuracy
"""

LOCK = "schema: '2.0'\nstages: {}\n"
HEAD = "b" * 40


@dataclasses.dataclass
class FakeProject:
    """A DVC checkout as the port sees it: one stage `train`, a remote, and a log of what was asked."""

    root: Path
    events: list[str]
    ran: tuple[str, ...] = ("train",)
    dirty: bool = True
    pull_error: Exception | None = None
    push_error: Exception | None = None
    pull_warning: str = ""

    def stage(self, name: str) -> StageFiles:
        return StageFiles(
            name=name,
            deps=("data.csv",),
            outs=("model.pkl", "metrics.json"),
            metrics=("metrics.json",),
            plots=(),
            pipeline=(name,),
            pipeline_outs=("model.pkl", "metrics.json"),
        )

    def producer(self, path: str) -> str | None:
        return "train"

    def top_level_metrics(self) -> tuple[str, ...]:
        return ()

    def default_remote(self) -> Remote | None:
        return Remote("storage", "s3://bucket/dvc")

    def lock_text(self) -> str:
        return LOCK

    def has_commit(self, sha: str) -> bool:
        return False

    def status(self, stage: str | None = None) -> dict[str, Any]:
        return {stage or "train": ["changed deps"]} if self.dirty else {}

    def pull(
        self,
        stage: str | None = None,
        *,
        rebuildable: Iterable[str] = (),
        warn: Callable[[str], None] | None = None,
    ) -> list[str]:
        self.events.append(f"pull {stage}")
        if self.pull_error is not None:
            raise self.pull_error
        if self.pull_warning and warn is not None:
            warn(self.pull_warning)
        return []

    def repro(self, stage: str, **kwargs: Any) -> ReproResult:
        self.events.append(f"repro {stage}")
        return ReproResult(stage=stage, ran=self.ran, log_tail="")

    def push(self, stage: str | None = None) -> int:
        self.events.append(f"push {stage}")
        if self.push_error is not None:
            raise self.push_error
        return 2

    def params(self, stages: Iterable[str] | None = None, rev: str | None = None) -> dict[str, Any]:
        return {"train.C": 1.0}

    def params_diff(self, rev: str, stages: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        return {}

    def metrics(self, paths: Iterable[str], rev: str | None = None) -> dict[str, float]:
        return {"accuracy": 0.9}

    def plots(self, stages: Iterable[str], *, top_level: bool, named: Iterable[str] = ()) -> list[Any]:
        return []

    def lock_hash(self) -> str:
        return "lock1"

    def output_md5(self, stage: str, path: str) -> str:
        return "out1"

    def input_md5s(self, stages: Any, extra: Iterable[str] = ()) -> dict[str, str]:
        return {"data.csv": "in1"}

    def close(self) -> None:
        self.events.append("close")


@dataclasses.dataclass
class FakeRuns:
    """The registry calls a training makes, logged in the same list as DVC's."""

    events: list[str]
    existing: list[RunRecord] = dataclasses.field(default_factory=list)
    log_error: Exception | None = None
    tracking_uri: str = "sqlite:///nowhere.db"

    def warm_up(self) -> None:
        pass

    def find_runs(self, model: str, tags: Mapping[str, str]) -> list[RunRecord]:
        return [r for r in self.existing if all(r.tags.get(k) == v for k, v in tags.items())]

    def tag_run(self, run_id: str, tags: Mapping[str, str]) -> None:
        self.events.append(f"tag {run_id} {dict(tags)}")

    def log_training_run(self, **kwargs: Any) -> RunRecord:
        self.events.append("log")
        if self.log_error is not None:
            raise self.log_error
        return RunRecord("run-new", kwargs["model"], dict(kwargs["metrics"]), {}, dict(kwargs["tags"]))


def _train(tmp_path: Path, project: FakeProject, runs: FakeRuns) -> TrainResult:
    config: RepoConfig = load_config(CONFIG)
    context = TrainContext(repo="acme/churn", pr=7, head_sha=HEAD, base_sha="", base_ref="main")

    def open_project(root: Path) -> TrainingProject:
        assert root == tmp_path
        return project

    [result] = train(
        tmp_path,
        config,
        model="churn",
        context=context,
        registry=runs,
        open_project=open_project,  # type: ignore[arg-type]
    )
    return result


def test_the_data_goes_to_the_remote_only_after_its_run_is_logged(tmp_path: Path) -> None:
    events: list[str] = []
    result = _train(tmp_path, FakeProject(tmp_path, events), FakeRuns(events))
    assert result.ok and result.run is not None and result.run.run_id == "run-new"
    assert events == ["pull train", "repro train", "log", "push train", "close"]


def test_a_run_that_could_not_be_logged_pushes_nothing_and_says_why(tmp_path: Path) -> None:
    events: list[str] = []
    runs = FakeRuns(events, log_error=ModelLogError("the model could not be logged: disk full"))
    result = _train(tmp_path, FakeProject(tmp_path, events), runs)
    assert (result.ok, result.error, result.failed_before_stage) == (
        False,
        "the model could not be logged: disk full",
        False,
    )
    assert not any(e.startswith("push") for e in events), events


def test_a_remote_that_refuses_the_push_is_one_warning_never_a_failed_training(tmp_path: Path) -> None:
    events: list[str] = []
    refused = DvcRemoteError("the DVC remote 'storage' refused the upload: access denied")
    result = _train(tmp_path, FakeProject(tmp_path, events, push_error=refused), FakeRuns(events))
    assert result.ok and result.run is not None
    assert result.warnings == [f"the model is logged, but its data is not on the DVC remote: {refused}"]


def test_data_missing_from_cache_and_remote_fails_before_any_stage_and_logs_nothing(tmp_path: Path) -> None:
    events: list[str] = []
    missing = DvcMissingDataError(["data.csv"], Remote("storage", "s3://bucket/dvc"))
    result = _train(tmp_path, FakeProject(tmp_path, events, pull_error=missing), FakeRuns(events))
    assert (result.ok, result.failed_before_stage, result.error) == (False, True, str(missing))
    assert events == ["pull train", "close"]  # no repro, no run, no push


def test_an_unusable_remote_whose_files_the_stage_rebuilds_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    events: list[str] = []
    line = "the stages rebuilt data.csv, which the DVC remote would have given: no s3fs"
    result = _train(tmp_path, FakeProject(tmp_path, events, pull_warning=line), FakeRuns(events))
    assert result.ok and result.warnings == [line]


@pytest.mark.parametrize(
    ("dirty", "ran", "reused"),
    [
        (False, (), True),  # nothing to reproduce: the run with this model output is the one
        (True, (), True),  # repro restored the outputs from DVC's run cache: still the same model
        (True, ("train",), False),  # the stage ran: a new run, even if one with this output exists
    ],
)
def test_a_run_is_reused_only_when_no_stage_ran(
    tmp_path: Path, dirty: bool, ran: tuple[str, ...], reused: bool
) -> None:
    events: list[str] = []
    earlier = RunRecord(
        "run-old", "churn", {"accuracy": 0.9}, {}, {RunTags.OUTPUT_HASH: "out1", RunTags.HEAD_SHA: "a" * 40}
    )
    result = _train(
        tmp_path, FakeProject(tmp_path, events, dirty=dirty, ran=ran), FakeRuns(events, existing=[earlier])
    )
    assert result.ok and result.run is not None
    assert (result.reused, result.run.run_id) == (reused, "run-old" if reused else "run-new")
    assert ("log" in events) is not reused
    if reused:  # the reused run now stands for this head too, where the card and `/card` look for it
        assert f"tag run-old {{'{RunTags.HEAD_SHA}': '{HEAD}'}}" in events
        assert result.run.tags[RunTags.HEAD_SHA] == HEAD
