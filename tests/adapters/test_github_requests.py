"""Requests that do not grow with the repository's history: marker look-ups through the real PyGithub client,
counted in the stand-in's request log (issue 12, item 1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
        s.check()  # every request the adapter made follows GitHub's REST description


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
    assert len(standin.requests) - before == 1 + 1  # open and closed in one listing of the bot's issues


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


# -- ids the bot made or found are remembered, and verified on use ------------------------------------------
CARD = "<!-- mlops-bot:card:iris -->"


def _factory(standin: StandIn) -> GitHubFactory:
    token = standin.installation_token(standin.install_app(FULL))
    return GitHubFactory(
        Settings(github_token=token, github_base_url=standin.base_url, github_throttle=False)
    )


def _thread(standin: StandIn, comments: int) -> int:
    """An issue with `comments` human comments (three pages of comments at 250)."""
    number = standin.create_issue(FULL, title="busy", body="", author="acme").number
    for n in range(comments):
        standin.add_comment(FULL, number, f"comment {n}" if n % 50 else f"quoting {CARD}", author="acme")
    return number


def _spent(standin: StandIn, before: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in standin.requests[before:]]


def test_a_card_edit_goes_straight_to_the_known_comment(standin: StandIn) -> None:
    factory = _factory(standin)
    number = _thread(standin, 250)
    first = factory.for_repo(FULL).upsert_comment(number, CARD, f"{CARD}\ncard v1")
    before = len(standin.requests)
    again = factory.for_repo(FULL).upsert_comment(number, CARD, f"{CARD}\ncard v2")  # another job, same bot
    spent = _spent(standin, before)
    assert again.id == first.id
    assert spent == [
        f"GET /repos/{FULL}/issues/comments/{first.id}",
        f"PATCH /repos/{FULL}/issues/comments/{first.id}",
    ]
    before = len(standin.requests)
    found = factory.for_repo(FULL).find_bot_comment(number, CARD)
    assert found is not None and found.id == first.id
    assert len(standin.requests) - before == 1
    bot = [c for c in standin.comments(FULL, number) if c.user != "acme"]
    assert [c.body for c in bot] == [f"{CARD}\ncard v2"]


def test_a_known_comment_that_was_deleted_or_lost_its_marker_is_looked_up_again(standin: StandIn) -> None:
    factory = _factory(standin)
    number = _thread(standin, 3)
    first = factory.for_repo(FULL).upsert_comment(number, CARD, f"{CARD}\ncard v1")
    standin.delete_comment(FULL, first.id)
    second = factory.for_repo(FULL).upsert_comment(number, CARD, f"{CARD}\ncard v2")
    assert second.id != first.id
    standin.edit_comment(FULL, second.id, "an admin took the marker out", by="acme")
    third = factory.for_repo(FULL).upsert_comment(number, CARD, f"{CARD}\ncard v3")
    assert third.id not in (first.id, second.id)
    bodies = [c.body for c in standin.comments(FULL, number) if c.user != "acme"]
    assert bodies == ["an admin took the marker out", f"{CARD}\ncard v3"]
    assert factory.for_repo(FULL).find_bot_comment(number, CARD) == third


def test_a_check_write_goes_straight_to_the_known_check_run(standin: StandIn) -> None:
    factory = _factory(standin)
    sha = standin.commit(FULL, "checks", {"params.yaml": "lr: 0.3\n"}, "tune", author="acme", base="main")
    made = factory.for_repo(FULL).upsert_check_run(sha, "mlops-bot / iris", status="in_progress")
    before = len(standin.requests)
    done = factory.for_repo(FULL).upsert_check_run(
        sha, "mlops-bot / iris", status="completed", conclusion="success", title="ok", summary="ok"
    )
    assert done == made
    assert _spent(standin, before) == [f"PATCH /repos/{FULL}/check-runs/{made}"]
    runs = [r for r in standin.check_runs(FULL, sha) if r.name == "mlops-bot / iris"]
    assert [(r.id, r.conclusion) for r in runs] == [(made, "success")]


def test_a_known_check_run_id_that_is_gone_falls_back_to_the_listing(standin: StandIn) -> None:
    factory = _factory(standin)
    sha = standin.commit(FULL, "checks2", {"params.yaml": "lr: 0.4\n"}, "tune", author="acme", base="main")
    gh = factory.for_repo(FULL)
    gh.known.put(FULL, "check", f"{sha}:mlops-bot / iris", 999_999_999)  # an id GitHub no longer knows
    made = gh.upsert_check_run(sha, "mlops-bot / iris", status="in_progress")
    assert made != 999_999_999
    assert [r.id for r in standin.check_runs(FULL, sha) if r.name == "mlops-bot / iris"] == [made]


def test_remembered_ids_are_bounded() -> None:
    from bot.adapters.github.memory import KnownIds

    known = KnownIds(limit=2)
    for n in range(3):
        known.put(FULL, "comment", str(n), n)
    assert (known.get(FULL, "comment", "0"), known.get(FULL, "comment", "2"), len(known)) == (None, 2, 2)


# -- what the webhook already said is not asked again; reviews only when the gate needs them -----------------
def test_the_payloads_repository_spares_the_repository_read(standin: StandIn) -> None:
    factory = _factory(standin)
    told = factory.for_repo(FULL, repository={"default_branch": "main", "clone_url": "file:///told.git"})
    before = len(standin.requests)
    assert (told.default_branch(), told.clone_url()) == ("main", "file:///told.git")
    assert len(standin.requests) == before
    asked = factory.for_repo(FULL)
    assert asked.default_branch() == "main" and asked.clone_url().endswith(".git")
    assert _spent(standin, before) == [f"GET /repos/{FULL}"]  # one answer holds both


def test_a_job_queued_from_a_webhook_carries_the_repository_facts(standin: StandIn) -> None:
    from bot.core.events import Delivery
    from bot.core.jobs import TrainRequest
    from bot.handlers.context import Context

    queued: list[dict[str, object]] = []
    ctx = Context(
        settings=Settings(github_base_url=standin.base_url),
        github=_factory(standin),
        enqueue=lambda key, event, action, payload: queued.append(payload) or True,
    )
    repository = {
        "full_name": FULL,
        "default_branch": "main",
        "clone_url": "file:///told.git",
        "private": False,
    }
    delivery = Delivery("d1", "pull_request", "opened", {"repository": repository, "installation": {"id": 1}})
    ctx.queue_job(TrainRequest(pr=1), "k", delivery)
    job = Delivery("job:k", "mlops-bot", "train", queued[0])
    before = len(standin.requests)
    gh = ctx.repo(job)
    assert (gh.default_branch(), gh.clone_url()) == ("main", "file:///told.git")
    assert _spent(standin, before) == []
    assert queued[0]["repository"] == {k: repository[k] for k in ("full_name", "default_branch", "clone_url")}


def test_pull_facts_are_one_request_unless_the_gate_needs_approvals(standin: StandIn) -> None:
    factory = _factory(standin)
    standin.commit(FULL, "reviewed", {"params.yaml": "lr: 0.5\n"}, "tune", author="acme", base="main")
    number = standin.open_pull(FULL, head="reviewed", title="Tune", author="acme")
    standin.approve(FULL, number, by="reviewer-a")
    gh = factory.for_repo(FULL)
    before = len(standin.requests)
    assert gh.pull(number).head_ref == "reviewed"
    assert _spent(standin, before) == [f"GET /repos/{FULL}/pulls/{number}"]
    before = len(standin.requests)
    assert gh.pull(number, approvals=True).approvals == 1
    assert len(standin.requests) - before == 2


# -- what is re-read is asked conditionally: a current copy costs a 304, which GitHub does not charge ---------
def test_a_repeated_config_read_is_a_304_and_a_change_is_seen(standin: StandIn) -> None:
    factory = _factory(standin)
    standin.commit(FULL, "main", {".github/mlops-bot.yml": "models: []\n"}, "config", author="acme")
    assert factory.for_repo(FULL).read_file(".github/mlops-bot.yml") == "models: []\n"
    before = len(standin.requests)
    assert factory.for_repo(FULL).read_file(".github/mlops-bot.yml") == "models: []\n"  # the next event
    again = standin.requests[before:]
    assert [(r.method, r.status, r.counts_toward_rate_limit) for r in again] == [("GET", 304, False)]
    standin.commit(FULL, "main", {".github/mlops-bot.yml": "models: [{name: iris}]\n"}, "more", author="acme")
    assert factory.for_repo(FULL).read_file(".github/mlops-bot.yml") == "models: [{name: iris}]\n"
    assert factory.for_repo(FULL).read_file("missing.yml") is None
    assert factory.for_repo(FULL).read_file(".github") is None  # a directory


def test_an_answer_to_a_command_lists_only_the_comments_since_the_command(standin: StandIn) -> None:
    factory = _factory(standin)
    number = _thread(standin, 250)
    for old in standin.comments(FULL, number):
        old.updated_at = old.created_at = "2026-01-01T00:00:00Z"  # a thread that grew over the past months
    command = standin.add_comment(FULL, number, "/help", author="acme")
    marker = f"<!-- mlops-bot:answer:{command.id} -->"
    before = len(standin.requests)
    made = factory.for_repo(FULL).upsert_comment(number, marker, "help", since=command.created_at)
    assert _spent(standin, before) == [
        f"GET /repos/{FULL}/issues/{number}/comments",  # one page: the 250 earlier comments are not listed
        f"POST /repos/{FULL}/issues/{number}/comments",
    ]
    fresh = _factory(standin).for_repo(FULL)  # another process: nothing remembered
    assert fresh.find_bot_comment(number, marker, since=command.created_at) == made
    assert fresh.upsert_comment(number, marker, "help", since=command.created_at) == made
    assert [c.body for c in standin.comments(FULL, number) if marker in c.body] == [f"{marker}\nhelp"]


def test_ids_are_remembered_across_processes_in_the_bots_work_dir(standin: StandIn, tmp_path: Path) -> None:
    """A card job is a process of its own: what the previous job posted is found through the work dir."""
    token = standin.installation_token(standin.install_app(FULL))

    def job() -> GitHubFactory:  # a fresh process: nothing in memory, the bot's work dir on disk
        return GitHubFactory(
            Settings(
                github_token=token, github_base_url=standin.base_url, github_throttle=False, work_dir=tmp_path
            )
        )

    number = _thread(standin, 250)
    first = job().for_repo(FULL).upsert_comment(number, CARD, f"{CARD}\ncard v1")
    before = len(standin.requests)
    again = job().for_repo(FULL).upsert_comment(number, CARD, f"{CARD}\ncard v2")
    assert again.id == first.id
    assert len(standin.requests) - before == 2  # GET the comment, PATCH it: no listing of 250 comments
    assert oct((tmp_path / "github-ids.sqlite").stat().st_mode & 0o777) == "0o600"


def test_a_listing_of_comments_asks_each_page_conditionally(standin: StandIn, tmp_path: Path) -> None:
    """A reply posted by the next job lists the thread again: the pages that did not change are free 304s."""
    token = standin.installation_token(standin.install_app(FULL))

    def job() -> GitHubFactory:
        settings = Settings(
            github_token=token, github_base_url=standin.base_url, github_throttle=False, work_dir=tmp_path
        )
        return GitHubFactory(settings)

    number = _thread(standin, 250)
    job().for_repo(FULL).upsert_comment(number, "<!-- mlops-bot:reply:1 -->", "planned")
    before = len(standin.requests)
    job().for_repo(FULL).upsert_comment(number, "<!-- mlops-bot:reply:2 -->", "promoted")
    spent = [(r.method, r.status, r.counts_toward_rate_limit) for r in standin.requests[before:]]
    assert spent == [("GET", 304, False), ("GET", 304, False), ("GET", 200, True), ("POST", 201, True)]
    bodies = [c.body for c in standin.comments(FULL, number) if c.user != "acme"]
    assert bodies == ["<!-- mlops-bot:reply:1 -->\nplanned", "<!-- mlops-bot:reply:2 -->\npromoted"]
