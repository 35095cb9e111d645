"""`mlops-bot init` in empty and half-initialised repositories: what it writes, what it keeps."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.core.config import load_config
from bot.resources import template_path

WORKFLOWS = ["mlops-drift.yml", "mlops-pr-card.yml", "mlops-pr.yml", "mlops-promote.yml"]
BASE_FILES = [".github/mlops-bot.yml", *(f".github/workflows/{w}" for w in WORKFLOWS)]


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _sample_files() -> list[str]:
    project = template_path("project")
    return sorted(
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def test_writes_the_config_and_the_workflows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--dir", str(tmp_path)]) == 0
    assert _files(tmp_path) == sorted(BASE_FILES)
    assert (tmp_path / ".github/mlops-bot.yml").read_text() == template_path(
        "config", "mlops-bot.yml"
    ).read_text()
    for name in WORKFLOWS:
        assert (tmp_path / ".github/workflows" / name).read_text() == template_path(
            "workflows", name
        ).read_text()
    out = capsys.readouterr().out
    assert all(f"wrote     {f}" in out for f in BASE_FILES)
    load_config((tmp_path / ".github/mlops-bot.yml").read_text())


def test_never_overwrites_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github/mlops-bot.yml").write_text("models: []  # mine\n")
    assert main(["init", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / ".github/mlops-bot.yml").read_text() == "models: []  # mine\n"
    assert "skipped   .github/mlops-bot.yml" in out and "--force" in out
    assert "wrote     .github/workflows/mlops-pr.yml" in out

    assert main(["init", "--dir", str(tmp_path)]) == 0
    assert "5 file(s) already existed" in capsys.readouterr().out

    assert main(["init", "--dir", str(tmp_path), "--force"]) == 0
    assert "overwrote .github/mlops-bot.yml" in capsys.readouterr().out
    assert "# mine" not in (tmp_path / ".github/mlops-bot.yml").read_text()


def test_sample_adds_the_project_and_its_own_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = _sample_files()
    if not sample:
        pytest.skip("templates/project is empty in this checkout")
    assert main(["init", "--dir", str(tmp_path / "new" / "repo"), "--sample"]) == 0
    root = tmp_path / "new" / "repo"
    assert _files(root) == sorted(set(BASE_FILES) | set(sample))
    if ".github/mlops-bot.yml" in sample:  # the sample's config names the sample's model
        written = (root / ".github/mlops-bot.yml").read_text()
        assert written == (template_path("project") / ".github/mlops-bot.yml").read_text()
        assert load_config(written).models
    assert "wrote     dvc.yaml" in capsys.readouterr().out


def test_pins_the_actions_to_another_repository_and_commit(tmp_path: Path) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert (
        main(["init", "--dir", str(tmp_path), "--actions-repo", "acme/mlops-bot", "--actions-ref", sha]) == 0
    )
    uses = re.findall(
        r"uses: (\S+/actions/\S+)(.*)", (tmp_path / ".github/workflows/mlops-pr.yml").read_text()
    )
    # the trusted and the fork job; a bare sha says where it came from
    assert uses == [(f"acme/mlops-bot/actions/train@{sha}", " # mlops-bot init --actions-ref")] * 2

    assert main(["init", "--dir", str(tmp_path / "b"), "--actions-repo", "acme/mlops-bot"]) == 0
    line = re.search(
        r"uses: (\S+/actions/drift@\S+.*)", (tmp_path / "b/.github/workflows/mlops-drift.yml").read_text()
    )
    template = re.search(
        r"uses: \S+/actions/drift@(\S+.*)", template_path("workflows", "mlops-drift.yml").read_text()
    )
    assert line and template and line[1] == f"acme/mlops-bot/actions/drift@{template[1]}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--actions-ref", "v1; rm -rf ."], "full 40-character commit sha or a tag"),
        (["--actions-ref", "a..b"], "full 40-character commit sha or a tag"),
        (["--actions-repo", "not a repo"], "OWNER/REPO"),
        (["--runner", "self-hosted, big gpu"], "not a label: 'big gpu'"),
        (["--runner", ""], "comma-separated runner labels"),
        (["--timeout", "0"], "1 to 7200"),
    ],
)
def test_refuses_bad_pins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["init", "--dir", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err
    assert _files(tmp_path) == []


def _jobs(root: Path, workflow: str) -> dict[str, Any]:
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load((root / ".github/workflows" / workflow).read_text())
    return dict(doc["jobs"])


def test_pins_the_release_tag_of_the_running_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot import __version__

    assert main(["init", "--dir", str(tmp_path)]) == 0
    pins = {
        line.split("@", 1)[1].strip()
        for w in WORKFLOWS
        for line in (tmp_path / ".github/workflows" / w).read_text().splitlines()
        if "/actions/" in line and "uses: mlops-bot/" in line
    }
    assert pins == {f"v{__version__}"}
    assert f"mlops-bot actions at v{__version__}." in capsys.readouterr().out


def test_runner_labels_and_timeout_reach_every_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--dir", str(tmp_path), "--runner", "self-hosted,gpu", "--timeout", "180"]) == 0
    timeouts = {}
    for workflow in WORKFLOWS:
        for name, job in _jobs(tmp_path, workflow).items():
            assert job["runs-on"] == ["self-hosted", "gpu"], f"{workflow}: {name}"
            timeouts[f"{workflow}:{name}"] = job["timeout-minutes"]
    # the heavy jobs take --timeout; the small API jobs keep their own short limit
    assert timeouts == {
        "mlops-drift.yml:drift": 180,
        "mlops-pr-card.yml:card": 15,
        "mlops-pr.yml:pr-facts": 5,
        "mlops-pr.yml:train": 180,
        "mlops-pr.yml:train-fork": 180,
        "mlops-promote.yml:promote": 180,
    }
    assert "jobs run on self-hosted,gpu" in capsys.readouterr().out
    assert main(["init", "--dir", str(tmp_path / "one"), "--runner", "ubuntu-24.04"]) == 0
    assert _jobs(tmp_path / "one", "mlops-pr.yml")["train"]["runs-on"] == "ubuntu-24.04"


def _git(root: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _promote_branches(root: Path) -> list[str]:
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load((root / ".github/workflows/mlops-promote.yml").read_text())
    return list(doc["on"]["push"]["branches"])


def test_promotes_on_the_repositorys_default_branch(tmp_path: Path) -> None:
    no_git = tmp_path / "plain"
    assert main(["init", "--dir", str(no_git)]) == 0
    assert _promote_branches(no_git) == ["main"]

    master = tmp_path / "master"
    master.mkdir()
    _git(master, "init", "-q", "-b", "master")  # no commit yet: the branch checked out still counts
    assert main(["init", "--dir", str(master)]) == 0
    assert _promote_branches(master) == ["master"]

    # a clone on a feature branch: origin's default branch wins over the branch checked out
    clone = tmp_path / "clone"
    _git(
        master,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t.invalid",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "c",
    )
    _git(tmp_path, "clone", "-q", str(master), str(clone))
    _git(clone, "checkout", "-q", "-b", "feature/x")
    assert main(["init", "--dir", str(clone)]) == 0
    assert _promote_branches(clone) == ["master"]


def test_the_promote_job_declares_the_configs_environment(tmp_path: Path) -> None:
    assert main(["init", "--dir", str(tmp_path)]) == 0
    # A dispatch names the environment it moves a version on to; a merge promotes to the first.
    assert (
        _jobs(tmp_path, "mlops-promote.yml")["promote"]["environment"]
        == "${{ inputs.environment || 'production' }}"
    )
    kept = tmp_path / "kept"
    (kept / ".github").mkdir(parents=True)
    template = template_path("config", "mlops-bot.yml").read_text()
    config = re.sub(r"(?m)^(\s*)environment: production\b", r"\1environment: ml-prod", template, count=1)
    (kept / ".github/mlops-bot.yml").write_text(config)
    assert load_config(config).promotion.environment == "ml-prod"
    assert main(["init", "--dir", str(kept)]) == 0  # the config is kept, its environment is used
    assert (
        _jobs(kept, "mlops-promote.yml")["promote"]["environment"] == "${{ inputs.environment || 'ml-prod' }}"
    )
    staged = tmp_path / "staged"
    (staged / ".github").mkdir(parents=True)
    two = re.sub(
        r"(?m)^(\s*)environment: production\b", r"\1environments: [staging, production]", template, count=1
    )
    (staged / ".github/mlops-bot.yml").write_text(two)
    assert main(["init", "--dir", str(staged)]) == 0
    assert (
        _jobs(staged, "mlops-promote.yml")["promote"]["environment"]
        == "${{ inputs.environment || 'staging' }}"
    )


def test_refuses_a_file_as_the_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "README.md"
    target.write_text("hi")
    assert main(["init", "--dir", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err


# -- init in a DVC project: the config is proposed from dvc.yaml ------------------------------------------

LOCK_HEADER = "schema: '2.0'\nstages:\n"


def dvc_project(root: Path, files: dict[str, str], *, lock_outs: dict[str, list[str]] | None = None) -> Path:
    """A real git + DVC repository: `files`, `dvc init`, a dvc.lock naming `lock_outs` (stage -> outs), all
    committed. Nothing is reproduced: the metrics files are written as a past `dvc repro` left them."""
    from bot.adapters.dvc import init_repo

    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    if lock_outs is not None:
        lock = LOCK_HEADER + "".join(
            f"  {stage}:\n    cmd: x\n    outs:\n"
            + "".join(f"    - path: {out}\n      md5: 0123456789abcdef0123456789abcdef\n" for out in outs)
            for stage, outs in lock_outs.items()
        )
        (root / "dvc.lock").write_text(lock)
    _git(root, "init", "-q", "-b", "main")
    # DVC's logger keeps the stream of the first test that used it, which capsys has closed since.
    dvc_logger = logging.getLogger("dvc")
    level = dvc_logger.level
    dvc_logger.setLevel(logging.WARNING)
    try:
        init_repo(root)
    finally:
        dvc_logger.setLevel(level)
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "project")
    return root


def _git(root: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


EVALUATE_DVC_YAML = """\
stages:
  train:
    cmd: python src/train.py
    deps: [src/train.py, data/train.csv]
    params: [train]
    outs: [model.pkl]
  evaluate:
    cmd: python src/evaluate.py
    deps: [src/evaluate.py, model.pkl, data/test.csv]
    outs:
      - reports:
          cache: false
metrics:
  - reports/scores.json
plots:
  - reports/roc.csv:
      x: fpr
      y: tpr
"""
DVCLIVE_DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, data]
    params: [train.n_estimators]
    outs: [model.joblib]
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py, model.joblib, data]
    metrics:
      - dvclive/metrics.json:
          cache: false
    plots:
      - dvclive/plots:
          cache: false
"""
ARTIFACTS_DVC_YAML = """\
stages:
  train_churn:
    cmd: python churn.py
    deps: [churn.py, data/churn.csv]
    outs: [models/churn.pkl]
    metrics: [metrics/churn.json]
  train_fraud:
    cmd: python fraud.py
    deps: [fraud.py, data/fraud.csv]
    outs: [models/fraud.pkl]
    metrics: [metrics/fraud.json]
artifacts:
  churn-classifier:
    path: models/churn.pkl
    type: model
  fraud-detector:
    path: models/fraud.pkl
    type: model
    desc: Flags card transactions
"""
SINGLE_DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, data/iris.csv]
    outs: [model.pkl]
    metrics:
      - metrics.json:
          cache: false
"""
NO_METRICS_DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, data.csv]
    outs: [clf.joblib]
"""


def _init(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[object, str]:
    assert main(["init", "--dir", str(root)]) == 0
    out = capsys.readouterr().out
    config = load_config((root / ".github/mlops-bot.yml").read_text(), ".github/mlops-bot.yml")
    return config, out


def _check(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["config", "check", str(root / ".github/mlops-bot.yml")])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_downstream_evaluate_stage_with_top_level_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = dvc_project(
        tmp_path / "churn",
        {
            "dvc.yaml": EVALUATE_DVC_YAML,
            "params.yaml": "train:\n  depth: 3\n",
            "reports/scores.json": '{"accuracy": 0.91, "roc_auc": 0.88}\n',
            "reports/roc.csv": "fpr,tpr\n0,0\n1,1\n",
        },
        lock_outs={"train": ["model.pkl"], "evaluate": ["reports"]},
    )
    config, out = _init(root, capsys)
    (model,) = config.models  # type: ignore[attr-defined]
    assert (model.name, model.stage, model.output) == ("churn", "train", "model.pkl")
    assert [(m.name, m.direction) for m in model.metrics] == [("accuracy", "higher"), ("roc_auc", "higher")]
    assert model.training_data == ["data/train.csv"]
    assert "found     churn: gates on accuracy, roc_auc from reports/scores.json" in out
    assert "params files: params.yaml" in out and "plot file(s)" in out
    assert "not found drift watch" in out
    code, said = _check(root, capsys)
    assert code == 0 and "matches dvc.yaml" in said


def test_dvclive_layout_gates_on_the_held_out_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = '{"roc_auc": {"train": 0.99, "test": 0.84}, "avg_prec": {"train": 0.98, "test": 0.8}}'
    root = dvc_project(
        tmp_path / "get-started",
        {
            "dvc.yaml": DVCLIVE_DVC_YAML,
            "params.yaml": "train:\n  n_estimators: 10\n",
            "dvclive/metrics.json": metrics,
            "dvclive/plots/sklearn/roc/test.json": '{"roc": [{"fpr": 0, "tpr": 0}]}',
        },
        lock_outs={"train": ["model.joblib"], "evaluate": ["dvclive/metrics.json", "dvclive/plots"]},
    )
    config, _ = _init(root, capsys)
    (model,) = config.models  # type: ignore[attr-defined]
    assert (model.stage, model.output) == ("train", "model.joblib")
    assert [m.name for m in model.metrics] == ["roc_auc.test", "avg_prec.test"]
    assert _check(root, capsys)[0] == 0


def test_artifacts_give_one_model_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = dvc_project(
        tmp_path / "two",
        {
            "dvc.yaml": ARTIFACTS_DVC_YAML,
            "metrics/churn.json": '{"f1": 0.7}',
            "metrics/fraud.json": '{"recall": 0.6, "log_loss": 0.2}',
        },
        lock_outs={
            "train_churn": ["models/churn.pkl", "metrics/churn.json"],
            "train_fraud": ["models/fraud.pkl", "metrics/fraud.json"],
        },
    )
    config, out = _init(root, capsys)
    got = [(m.name, m.stage, m.output, [(g.name, g.direction) for g in m.metrics]) for m in config.models]  # type: ignore[attr-defined]
    assert got == [
        ("churn-classifier", "train_churn", "models/churn.pkl", [("f1", "higher")]),
        ("fraud-detector", "train_fraud", "models/fraud.pkl", [("recall", "higher"), ("log_loss", "lower")]),
    ]
    assert "artifact of type model" in out
    assert _check(root, capsys)[0] == 0


def test_single_train_stage_with_a_pickle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = dvc_project(
        tmp_path / "iris",
        {"dvc.yaml": SINGLE_DVC_YAML, "metrics.json": '{"accuracy": 0.97}'},
        lock_outs={"train": ["model.pkl", "metrics.json"]},
    )
    config, _ = _init(root, capsys)
    (model,) = config.models  # type: ignore[attr-defined]
    assert (model.name, model.stage, model.output, [m.name for m in model.metrics]) == (
        "iris",
        "train",
        "model.pkl",
        ["accuracy"],
    )


def test_metrics_are_not_guessed_without_a_committed_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = dvc_project(tmp_path / "iris", {"dvc.yaml": SINGLE_DVC_YAML, "metrics.json": '{"accuracy": 0.97}'})
    config, out = _init(root, capsys)
    assert config.models[0].metrics == []  # type: ignore[attr-defined]
    assert "no committed dvc.lock" in out
    assert "#   - name: accuracy" in (root / ".github/mlops-bot.yml").read_text()


def test_a_project_without_metrics_is_warned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = dvc_project(tmp_path / "bare", {"dvc.yaml": NO_METRICS_DVC_YAML})
    config, out = _init(root, capsys)
    (model,) = config.models  # type: ignore[attr-defined]
    assert (model.name, model.output, model.metrics) == ("clf", "clf.joblib", [])
    assert "not found clf: no metric to gate on" in out and "add one under models[].metrics" in out
    assert _check(root, capsys)[0] == 0  # nothing gated: nothing to contradict


def test_template_flag_keeps_the_generic_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = dvc_project(tmp_path / "bare", {"dvc.yaml": NO_METRICS_DVC_YAML})
    assert main(["init", "--dir", str(root), "--template"]) == 0
    assert (root / ".github/mlops-bot.yml").read_text() == template_path(
        "config", "mlops-bot.yml"
    ).read_text()
    assert "From dvc.yaml" not in capsys.readouterr().out


def test_broken_dvc_yaml_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dvc.yaml").write_text("stages: [not, a, mapping]\n")
    assert main(["init", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`stages:` must be a mapping" in err and "--template" in err
    assert not (tmp_path / ".github").exists()


def test_the_shared_evaluate_fixture_inits_to_a_loadable_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dvc_projects = pytest.importorskip("tests.support.dvc_projects")
    project = dvc_projects.evaluate_stage_project(tmp_path / "p", remote=tmp_path / "remote")
    assert main(["init", "--dir", str(project.root), "--force"]) == 0
    out = capsys.readouterr().out
    config = load_config((project.root / ".github/mlops-bot.yml").read_text())
    assert [(m.stage, m.output) for m in config.models] == [("train", "model.pkl")]
    assert "reports/scores.json could not be read" in out.replace("files ", "")
