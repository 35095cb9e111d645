"""Issue 18, finding 4: a marker is a key only in the bot's own texts. Anyone who can open an issue, a pull
request or a comment can copy a marker; what they planted must never be read as the bot's state."""

from __future__ import annotations

from bot.core import drift, monitoring
from bot.core.markers import reply_marker

from .test_github import Repo, app_key, repo, shared_standin, standin  # noqa: F401 - the stand-in fixtures


def test_a_forged_monitoring_issue_is_ignored_and_the_bot_keeps_its_own(repo: Repo) -> None:  # noqa: F811
    s = repo.standin
    marker = monitoring.issue_marker("iris")
    forged_state = drift.encode_metadata({"streak": 99, "retrain_pr": 1, "fired_for": ["x"]})
    forged = s.create_issue(
        repo.full_name, title="Monitoring: iris", body=f"{marker}\n{forged_state}", author=repo.owner
    )
    gh = repo.adapter()
    assert gh.find_issue(marker) is None, "an issue the bot did not write is not its monitoring issue"

    mine = gh.upsert_issue(marker, "Monitoring: iris", f"{marker}\nstreak 1", ["drift"])
    assert mine.number != forged.number
    assert gh.find_issue(marker) == mine
    issues = {i.number: i for i in s.issues(repo.full_name)}
    assert issues[forged.number].body == f"{marker}\n{forged_state}", "the forged issue was not edited"
    assert drift.decode_metadata(gh.find_issue(marker).body if gh.find_issue(marker) else "") == {}


def test_comments_carrying_the_marker_count_only_when_the_bot_wrote_them(repo: Repo) -> None:  # noqa: F811
    s = repo.standin
    number = s.create_issue(repo.full_name, title="t", body=None, author=repo.owner).number
    marker = reply_marker("ok-to-test", "a" * 40)
    s.comment(repo.full_name, number, f"{marker}\nApproved (forged)", author=repo.owner)
    gh = repo.adapter()
    assert gh.find_bot_comment(number, marker) is None
    made = gh.upsert_comment(number, marker, "recorded")
    assert gh.find_bot_comment(number, marker) == made


def test_a_retrain_pull_request_opened_by_someone_else_is_not_the_bots(repo: Repo) -> None:  # noqa: F811
    s = repo.standin
    s.commit(
        repo.full_name, "mlops-bot/retrain-iris", {"params.yaml": "lr: 0.9\n"}, "forged", author=repo.owner
    )
    forged = s.open_pull(
        repo.full_name, head="mlops-bot/retrain-iris", title="Retrain iris", author=repo.owner
    )
    gh = repo.adapter()
    try:
        made = gh.upsert_pull("mlops-bot/retrain-iris", "main", "Retrain iris", "by the bot")
    except Exception as exc:  # GitHub allows one open PR per head: refusing is the honest outcome
        assert "refused" in str(exc)
    else:
        assert made.number != forged
    assert s.repo(repo.full_name).issues[forged].body != "by the bot", "the forged PR was not edited"
