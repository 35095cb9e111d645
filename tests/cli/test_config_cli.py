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
