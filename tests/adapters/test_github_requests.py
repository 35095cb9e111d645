"""Requests that do not grow with the repository's history: marker look-ups through the real PyGithub client,
counted in the stand-in's request log (issue 12, item 1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.adapters.github import GitHubFactory, GitHubRepo
from bot.settings import Settings
from bot.standin import StandIn

FULL = "acme/history"
MARKER = "<!-- mlops-bot:drift:iris -->"


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    with StandIn(tmp_path_factory.mktemp("gh")) as s:
        s.create_repo(FULL)
        if s.repo(FULL).git.branch_sha("main") is None:
            s.commit(FULL, "main", {"params.yaml": "lr: 0.1\n"}, "first", author="acme")
        yield s


def _adapter(standin: StandIn) -> GitHubRepo:
    token = standin.installation_token(standin.install_app(FULL))
    factory = GitHubFactory(
        Settings(github_token=token, github_base_url=standin.base_url, github_throttle=False)
    )
    return factory.for_repo(FULL)


def _grow(standin: StandIn, total: int) -> None:
    """Human issues (some quoting the marker) until the repository holds `total`."""
    have = len(standin.issues(FULL))
    for n in range(have, total):
        body = f"see {MARKER}" if n % 50 == 0 else f"issue {n}"
        standin.create_issue(FULL, title=f"human {n}", body=body, author="acme")


@pytest.mark.parametrize("history", [250, 2000])
def test_find_issue_costs_the_same_with_a_long_history(standin: StandIn, history: int) -> None:
    gh = _adapter(standin)
    if gh.find_issue(MARKER) is None:
        gh.upsert_issue(MARKER, "Drift: iris", f"{MARKER}\n2 columns", ["drift"])
    _grow(standin, history)
    before = len(standin.requests)
    found = gh.find_issue(MARKER)
    spent = standin.requests[before:]
    assert found is not None and found.body.startswith(MARKER)
    # a planted marker in a human issue never counts, and no issue is fetched one by one
    assert len(spent) == 1, [f"{r.method} {r.path}" for r in spent]
    assert gh.find_issue("<!-- mlops-bot:drift:none -->") is None
    assert len(standin.requests) - before == 1 + 2  # open, closed


def test_upsert_issue_with_a_long_history_edits_without_listing_each(standin: StandIn) -> None:
    gh = _adapter(standin)
    _grow(standin, 250)
    before = len(standin.requests)
    gh.upsert_issue(MARKER, "Drift: iris", f"{MARKER}\n3 columns", ["drift"])
    spent = standin.requests[before:]
    assert len(spent) == 2, [f"{r.method} {r.path}" for r in spent]
    assert [i.body for i in standin.issues(FULL) if i.user != "acme"] == [f"{MARKER}\n3 columns"]


def test_find_issue_ignores_a_pull_request_carrying_the_marker(standin: StandIn) -> None:
    gh = _adapter(standin)
    marker = "<!-- mlops-bot:pr-only -->"
    gh.commit_files("mlops-bot/retrain", "main", {"params.yaml": "lr: 0.2\n"}, "Retrain")
    gh.upsert_pull("mlops-bot/retrain", "main", "Retrain", f"{marker}\nretrain")
    assert gh.find_issue(marker) is None
    made = gh.upsert_issue(marker, "Drift", f"{marker}\nreal", ["drift"])
    found = gh.find_issue(marker)
    assert found is not None and found.number == made.number
