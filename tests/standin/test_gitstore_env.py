"""The stand-in's git commands (and the server-side hook they run on a push) get an allow-listed environment:
none of the bot's secrets, keys, database URL or tokens reach them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.standin.gitstore import GitRepo

SECRETS = {
    "MLOPS_BOT_WEBHOOK_SECRET": "whsec",
    "MLOPS_BOT_PRIVATE_KEY": "-----BEGIN KEY-----",
    "MLOPS_BOT_DATABASE_URL": "postgresql://u:p@db/x",
    "GITHUB_TOKEN": "ghs_token",
    "MLFLOW_TRACKING_PASSWORD": "pw",
}


def test_git_runs_without_the_bots_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    repo = GitRepo.init(tmp_path / "r.git", "main")
    seen = repo.git("var", "-l").decode()  # git itself, and what it would hand a hook, sees this environment
    hook = tmp_path / "r.git" / "hooks" / "env-dump"
    hook.write_text("#!/bin/sh\nenv\n")
    hook.chmod(0o755)
    dumped = repo.git("-c", f"alias.dump=!{hook}", "dump").decode()
    for value in SECRETS.values():
        assert value not in seen and value not in dumped
    assert "PATH=" in dumped  # what git needs still comes through
