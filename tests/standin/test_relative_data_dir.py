"""A stand-in started from a relative folder (as `mlops-bot demo --out demo-out` does) still serves clone URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from github import Auth, Github

from bot.standin import StandIn


def test_relative_data_dir_gives_absolute_clone_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with StandIn(Path("demo-out") / "github") as standin:
        standin.create_repo("acme/rel")
        token = standin.create_user("alice")
        repo = Github(base_url=standin.base_url, auth=Auth.Token(token)).get_repo("acme/rel")
        assert repo.clone_url.startswith("file:///")
        assert Path(repo.clone_url.removeprefix("file://")).is_dir()
