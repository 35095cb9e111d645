"""The card comment and its Check Run are written at the same time (issue 12), and neither is lost when the
other fails: through the stand-in, with tokens that lack one of the two permissions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from github import GithubException

from bot.core.config import CONFIG_PATH
from bot.core.markers import card_marker
from bot.jobs.card import check_name, post_cards
from bot.jobs.common import JobEnv
from bot.settings import Settings
from bot.standin import StandIn
from tests.jobs.test_card import CONFIG, result
from tests.support.mlflow_store import sqlite_registry

READ = {"metadata": "read", "contents": "read"}
NO_CHECKS = {**READ, "issues": "write", "pull_requests": "write"}
NO_COMMENTS = {**READ, "issues": "read", "pull_requests": "read", "checks": "write"}


@pytest.fixture
def world(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StandIn, int, dict[str, JobEnv]]]:
    src = tmp_path / "src"
    (src / ".github").mkdir(parents=True)
    (src / CONFIG_PATH).write_text(CONFIG)
    with StandIn(tmp_path / "github") as gh:
        gh.create_repo("acme/churn", source=src)
        gh.create_user("alice")
        gh.commit(
            "acme/churn", "tune", {"params.yaml": "train:\n  C: 0.5\n"}, "tune", author="alice", base="main"
        )
        number = gh.open_pull("acme/churn", head="tune", title="Tune C", author="alice")
        installation = gh.install_app("acme/churn")
        registry = sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())
        envs = {}
        for name, permissions in (("no checks", NO_CHECKS), ("no comments", NO_COMMENTS), ("all", None)):
            token = gh.installation_token(installation, permissions=permissions)
            settings = Settings(github_token=token, github_base_url=gh.base_url, github_throttle=False,
                                mlflow_tracking_uri=registry.tracking_uri)  # fmt: skip
            envs[name] = JobEnv(settings=settings, repo="acme/churn")
            envs[name].__dict__["registry"] = registry
        yield gh, number, envs


def test_both_the_card_and_its_check_are_written(world: tuple[StandIn, int, dict[str, JobEnv]]) -> None:
    gh, number, envs = world
    pull = envs["all"].gh.pull(number)
    [outcome] = post_cards(envs["all"], [result(0.91)], pull)
    [card] = [c for c in gh.comments("acme/churn", number) if card_marker("churn") in c.body]
    [run] = gh.check_runs("acme/churn", pull.head_sha)
    assert (card.id, run.id) == (outcome.comment_id, outcome.check_run_id)
    assert run.name == check_name("churn") and run.conclusion == outcome.conclusion
    assert "0.91" in card.body


def test_a_check_run_that_cannot_be_written_keeps_the_card(
    world: tuple[StandIn, int, dict[str, JobEnv]],
) -> None:
    gh, number, envs = world
    pull = envs["all"].gh.pull(number)
    with pytest.raises(GithubException) as raised:
        post_cards(envs["no checks"], [result(0.91)], pull)
    assert raised.value.status == 403
    assert [c for c in gh.comments("acme/churn", number) if card_marker("churn") in c.body]
    assert gh.check_runs("acme/churn", pull.head_sha) == []


def test_a_card_that_cannot_be_written_keeps_the_check(world: tuple[StandIn, int, dict[str, JobEnv]]) -> None:
    gh, number, envs = world
    pull = envs["all"].gh.pull(number)
    with pytest.raises(GithubException) as raised:
        post_cards(envs["no comments"], [result(0.91)], pull)
    assert raised.value.status == 403
    assert not [c for c in gh.comments("acme/churn", number) if card_marker("churn") in c.body]
    [run] = gh.check_runs("acme/churn", pull.head_sha)  # the check run says what the card would have
    assert run.name == check_name("churn") and run.status == "completed"
