"""`mlops-bot init` in empty and half-initialised repositories: what it writes, what it keeps."""

from __future__ import annotations

import re
from pathlib import Path

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
    assert uses == [(f"acme/mlops-bot/actions/train@{sha}", "")] * 2  # the trusted and the fork job

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
        (["--actions-ref", "v1"], "full 40-character commit sha"),
        (["--actions-repo", "not a repo"], "OWNER/REPO"),
    ],
)
def test_refuses_bad_pins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["init", "--dir", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err
    assert _files(tmp_path) == []


def test_refuses_a_file_as_the_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "README.md"
    target.write_text("hi")
    assert main(["init", "--dir", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err
