"""One version, said once: bot/__init__.py is what the package metadata, `mlops-bot --version`, the
changelog's newest release and the `v<version>` tag the workflow templates pin all follow."""

from __future__ import annotations

import re
import tomllib

import pytest

from bot import __version__
from bot.cli import main
from tests.actions.action_files import REPO_ROOT


def test_pyproject_takes_the_version_from_the_package() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "bot.__version__"}


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"mlops-bot {__version__}"


def test_changelog_newest_release_is_this_version() -> None:
    text = (REPO_ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"(?m)^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text)
    assert releases and releases[0] == __version__
    assert text.index("## [Unreleased]") < text.index(f"## [{__version__}]")
    assert f"[{__version__}]: " in text  # the link reference of the release heading
