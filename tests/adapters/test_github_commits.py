"""Reading one commit through the real PyGithub client against the stand-in: what tells the bot's own
`dvc.lock` commit from a person's push (bot/core/pushes.py), in one request."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.github import GitHubFactory
from bot.settings import Settings
from bot.standin import StandIn

FULL = "acme/locks"


def test_a_commit_reads_its_parent_author_message_and_files_in_one_request(tmp_path: Path) -> None:
    with StandIn(tmp_path / "gh") as standin:
        standin.create_repo(FULL)
        first = standin.commit(
            FULL, "main", {"params.yaml": "lr: 0.1\n", "dvc.lock": "a\n"}, "first", author="acme"
        )
        second = standin.commit(FULL, "main", {"dvc.lock": "b\n"}, "mlops-bot: dvc.lock of the trained churn",
                                author="acme")  # fmt: skip
        token = standin.installation_token(standin.install_app(FULL))
        gh = GitHubFactory(
            Settings(github_token=token, github_base_url=standin.base_url, github_throttle=False)
        )
        repo = gh.for_repo(FULL)

        before = len(standin.requests)
        facts = repo.commit(second)
        spent = standin.requests[before:]

    assert [f"{r.method} {r.path}" for r in spent] == [f"GET /repos/{FULL}/commits/{second}"]
    assert facts.sha == second
    assert facts.parents == (first,)
    assert facts.files == ("dvc.lock",)
    assert facts.message == "mlops-bot: dvc.lock of the trained churn"
    assert facts.author_email and facts.author_email == facts.committer_email
