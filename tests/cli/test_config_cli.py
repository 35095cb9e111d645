"""`mlops-bot config check|schema`: what a maintainer sees before pushing a config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

GOOD = """\
# mlops-bot configuration
models:
  - name: churn
    stage: train
    output: models/model.pkl
    metrics:
      - name: f1
        tolerance: 0.01
        min: 0.8
    drift:
      current: data/production.csv
      reference: data/train.csv
  - name: upsell
    stage: train_upsell
    output: models/upsell.pkl
promotion:
  required_approvals: 1
"""


def write(tmp_path: Path, text: str, name: str = ".github/mlops-bot.yml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_good_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD)
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out.strip()
    assert out == (
        f"{path}: ok — 2 models (churn, upsell), 1 gated metric(s), "
        "drift checks for 1 model(s), promotes on merge"
    )
    assert "\n" not in out


def test_the_summary_names_the_environments_a_merge_goes_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staged = GOOD.replace("promotion:\n", "promotion:\n  environments: [staging, production]\n  soak: 24h\n")
    assert main(["config", "check", str(write(tmp_path, staged))]) == 0
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith("promotes on merge to staging (staging -> production, soak 24h)")
    )


def test_default_path_is_the_repository_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, GOOD)
    monkeypatch.chdir(tmp_path)
    assert main(["config", "check"]) == 0
    assert capsys.readouterr().out.startswith(".github/mlops-bot.yml: ok")


def test_broken_yaml_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "models:\n  - name: churn\n    stage: [train\n    output: x\n")
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}: line " in err and "not valid YAML" in err
    assert "1 problem;" in err


def test_unknown_key_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.replace("        tolerance: 0.01\n", "        tolerence: 0.01\n")
    path = write(tmp_path, text)
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert f"{path}: line 8: models.0.metrics.0.tolerence: Extra inputs are not permitted" in err


def test_every_problem_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "models:\n  - name: 'bad name'\n    stage: train\npermissions:\n  promote: root\n")
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 2: models.0.name" in err
    assert "models.0.output: Field required" in err
    assert "line 5: permissions.promote" in err
    assert "3 problems;" in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(tmp_path / "nope.yml")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_card_template_must_exist_and_compile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD + "card_template: .github/card.md.j2\n")
    assert main(["config", "check", str(path)]) == 1
    assert "card_template: .github/card.md.j2 does not exist" in capsys.readouterr().err
    write(tmp_path, "{% if %}\n", ".github/card.md.j2")
    assert main(["config", "check", str(path)]) == 1
    assert "card_template: .github/card.md.j2 line 1:" in capsys.readouterr().err
    write(tmp_path, "Card of {{ name }}\n", ".github/card.md.j2")
    assert main(["config", "check", str(path)]) == 0


def test_schema_is_json_schema_of_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"].startswith("mlops-bot repository configuration")
    assert {"models", "promotion", "permissions"} <= set(schema["properties"])
    assert "ok-to-test" in json.dumps(schema)


def test_schema_validates_the_good_file() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from ruamel.yaml import YAML

    from bot.core.config import config_schema

    jsonschema.validate(YAML(typ="safe").load(GOOD), config_schema())


def test_runs_as_a_command(tmp_path: Path) -> None:
    path = write(tmp_path, "models: [\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "config", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "not valid YAML" in proc.stderr


# -- checked against the DVC project it sits in -----------------------------------------------------------

PROJECT_DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, data/train.csv]
    outs: [model.pkl]
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py, model.pkl]
    outs:
      - reports:
          cache: false
metrics:
  - reports/scores.json
"""


def dvc_project(root: Path, files: dict[str, str]) -> Path:
    """A real git + DVC repository holding `files` (as a past `dvc repro` left them), committed."""
    import logging

    from bot.adapters.dvc import init_repo

    for rel, text in {"dvc.yaml": PROJECT_DVC_YAML, "data/train.csv": "a,label\n1,0\n", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    dvc_logger = logging.getLogger("dvc")  # it keeps the stream of an earlier test's (closed) capsys
    level = dvc_logger.level
    dvc_logger.setLevel(logging.WARNING)
    try:
        init_repo(root)
    finally:
        dvc_logger.setLevel(level)
    return root


def _model(extra: str = "", *, stage: str = "train", output: str = "model.pkl") -> str:
    return f"models:\n  - name: churn\n    stage: {stage}\n    output: {output}\n{extra}"


def _run(root: Path, text: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[str]]:
    path = write(root, text)
    code = main(["config", "check", str(path), *extra])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).splitlines()


def test_the_template_accuracy_in_a_project_without_it_lists_what_exists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.resources import template_path

    root = dvc_project(tmp_path, {"reports/scores.json": '{"roc_auc": 0.8, "loss": {"test": 0.3}}'})
    text = template_path("config", "mlops-bot.yml").read_text().replace("model.pkl # required", "model.pkl")
    code, lines = _run(root, text, capsys)
    assert code == 2
    shown = str(root / ".github/mlops-bot.yml")
    accuracy_line = next(i for i, line in enumerate(text.splitlines(), 1) if "name: accuracy" in line)
    assert (
        f"{shown}: line {accuracy_line}: models.0.metrics.0.name: metric 'accuracy' is in none of the metrics "
        "files (reports/scores.json); they hold: roc_auc, loss.test"
    ) in lines
    assert any("models.0.metrics.1.name: metric 'f1'" in line for line in lines)
    assert any("models.0.drift.current: data/production.csv does not exist" in line for line in lines)
    assert lines[-1].endswith(f"mismatches with the DVC project in {root}")
    assert not any("Traceback" in line for line in lines)


def test_stage_and_output_must_match_dvc_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = dvc_project(tmp_path, {})
    code, lines = _run(root, _model(stage="fit"), capsys)
    assert code == 2
    assert (
        f"{root / '.github/mlops-bot.yml'}: line 3: models.0.stage: no stage 'fit' in dvc.yaml "
        "(stages: train, evaluate)" in lines
    )
    code, lines = _run(root, _model(stage="evaluate"), capsys)
    assert code == 2 and any(
        "line 4: models.0.output: model.pkl is not an output of stage 'evaluate' (it is an output of stage "
        "'train'" in line
        for line in lines
    )


def test_a_matching_config_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = dvc_project(tmp_path, {"reports/scores.json": '{"roc_auc": 0.8}', "prod/2024-01.csv": "a\n1\n"})
    extra = (
        "    metrics: [{name: roc_auc, min: 0.5}]\n"
        "    drift: {current: 'prod/*.csv', reference: data/train.csv}\n"
    )
    code, lines = _run(root, _model(extra), capsys)
    assert code == 0 and lines[-1].endswith("; matches dvc.yaml"), lines


def test_metrics_from_names_where_the_metrics_are(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = dvc_project(tmp_path, {"reports/scores.json": '{"roc_auc": 0.8}', "other.json": '{"f1": 0.5}'})
    code, lines = _run(root, _model("    metrics_from: [other.json]\n    metrics: [{name: f1}]\n"), capsys)
    assert code == 0, lines
    code, lines = _run(
        root, _model("    metrics_from: [other.json]\n    metrics: [{name: roc_auc}]\n"), capsys
    )
    assert code == 2 and any(
        "metric 'roc_auc' is in none of the metrics files (other.json)" in x for x in lines
    )


def test_unrun_metrics_are_a_warning_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = dvc_project(tmp_path, {})
    code, lines = _run(root, _model("    metrics: [{name: roc_auc}]\n"), capsys)
    assert code == 0
    assert any(
        ": warning: line 5: models.0.metrics.0.name: metric 'roc_auc' cannot be checked" in x for x in lines
    )


def test_repo_dir_checks_a_config_kept_elsewhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = dvc_project(tmp_path / "project", {})
    code, lines = _run(tmp_path / "elsewhere", _model(stage="fit"), capsys, "--repo-dir", str(root))
    assert code == 2 and any("no stage 'fit'" in line for line in lines)
    code, lines = _run(tmp_path / "elsewhere", _model(), capsys, "--repo-dir", str(tmp_path))
    assert code == 2 and lines == [f"mlops-bot config: --repo-dir {tmp_path}: no dvc.yaml there"]


def test_repository_mismatch_exits_2_as_a_command(tmp_path: Path) -> None:
    root = dvc_project(tmp_path, {"reports/scores.json": '{"roc_auc": 0.8}'})
    path = write(root, _model("    metrics: [{name: accuracy}]\n"))
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "config", "check", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"{path}: line 5: models.0.metrics.0.name: metric 'accuracy' is in none of the metrics files "
        "(reports/scores.json); they hold: roc_auc",
        f"{path}: 1 mismatch with the DVC project in {root}",
    ]
