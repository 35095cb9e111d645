"""`check_conclusions`: what `promotion.required_checks` is judged on, read through the real PyGithub client."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.github import GitHubFactory
from bot.settings import Settings
from bot.standin import StandIn


def test_check_conclusions_name_each_check_on_the_commit(tmp_path: Path) -> None:
    with StandIn(tmp_path / "gh") as standin:
        standin.create_repo("acme/c")
        sha = standin.repo("acme/c").git.branch_sha("main") or standin.commit(
            "acme/c", "main", {"README.md": "x"}, "first", author="acme"
        )
        token = standin.installation_token(standin.install_app("acme/c"))
        gh = GitHubFactory(
            Settings(github_token=token, github_base_url=standin.base_url, github_throttle=False)
        )
        repo = gh.for_repo("acme/c")
        repo.upsert_check_run(
            sha, "ci / tests", status="completed", conclusion="success", title="ok", summary="ok"
        )
        repo.upsert_check_run(sha, "ci / lint", status="in_progress")
        assert repo.check_conclusions(sha) == {"ci / tests": "success", "ci / lint": "in_progress"}
        standin.check()
