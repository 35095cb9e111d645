"""Environments' protection rules on the stand-in, set and read through real PyGithub, every request and answer
checked against GitHub's REST description (the `standin` fixture fails a test on any violation)."""

from __future__ import annotations

import pytest
from github import GithubException
from github.EnvironmentProtectionRuleReviewer import ReviewerParams

from bot.adapters.github import GitHubRepo
from bot.core.environments import Protection
from tests.standin.conftest import World, client


def _adapter(world: World) -> GitHubRepo:
    return GitHubRepo(client(world.standin, world.bot_token), world.full_name, bot_login="mlops-bot[bot]")


def _user_id(world: World, login: str) -> int:
    return world.standin.users[login].id


def test_required_reviewers_and_wait_timer_as_github_lists_them(world: World) -> None:
    owner = world.as_user(world.owner_token)
    env = owner.create_environment(
        "production",
        wait_timer=30,
        reviewers=[ReviewerParams("User", _user_id(world, world.writer))],
    )
    rules = {r.type: r for r in env.protection_rules}
    assert rules["wait_timer"].wait_timer == 30
    assert [r.reviewer.login for r in rules["required_reviewers"].reviewers] == [world.writer]
    # What the bot reads before it deploys there with the local executor:
    assert _adapter(world).environment_protection("production") == Protection(
        reviewers=(world.writer,), wait_minutes=30
    )
    # A PUT states the rules whole; the name is not case sensitive.
    owner.create_environment("production", wait_timer=5)
    assert _adapter(world).environment_protection("Production") == Protection(wait_minutes=5)


def test_an_environment_github_does_not_have_is_unprotected(world: World) -> None:
    assert _adapter(world).environment_protection("staging") == Protection(exists=False)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"wait_timer": 43_201}, "between 0 and 43200"),
        ({"reviewers": [ReviewerParams("Team", 1)]}, "serves no teams"),
        ({"reviewers": [ReviewerParams("User", 987_654)]}, "is not a user"),
        ({"reviewers": [ReviewerParams("User", i) for i in range(7)]}, "up to 6"),
    ],
)
def test_rules_github_would_refuse_are_refused(
    world: World, options: dict[str, object], fragment: str
) -> None:
    with pytest.raises(GithubException) as err:
        world.as_user(world.owner_token).create_environment("production", **options)
    assert err.value.status == 422
    assert fragment in str(err.value.data)


def test_only_an_admin_sets_protection_rules(world: World) -> None:
    with pytest.raises(GithubException) as err:
        world.as_user(world.writer_token).create_environment("production", wait_timer=5)
    assert err.value.status == 403
