"""The PyGithub adapter against the stand-in: keyed, idempotent effects that survive GitHub's failures."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from github import GithubException

from bot.adapters.github import (
    MAX_COMMENT_CHARS,
    BodyTooLong,
    GitHubError,
    GitHubFactory,
    GitHubRepo,
    RetryPolicy,
    git_blob_sha,
    retry_delay,
)
from bot.core.permissions import Permission
from bot.settings import Settings
from bot.standin import WRITE_METHODS, StandIn
from bot.standin.testing import app_key_pair, assert_clean

APP_ID = 777
MARKER = "<!-- mlops-bot:card:iris -->"
_names = itertools.count(1)


@dataclass
class Sleeps:
    """A fake `sleep` that records the waits instead of waiting."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(scope="module")
def app_key() -> tuple[str, str]:
    return app_key_pair()


@pytest.fixture(scope="module")
def shared_standin(tmp_path_factory: pytest.TempPathFactory, app_key: tuple[str, str]) -> Iterator[StandIn]:
    standin = StandIn(tmp_path_factory.mktemp("gh"))
    standin.validate_responses = True
    standin.register_app(APP_ID, app_key[1])
    with standin:
        yield standin


@pytest.fixture
def standin(shared_standin: StandIn) -> Iterator[StandIn]:
    shared_standin.faults.clear()
    yield shared_standin
    shared_standin.faults.clear()
    assert_clean(shared_standin)


@dataclass
class Repo:
    standin: StandIn
    full_name: str
    owner: str
    installation_id: int
    settings: Settings
    sleeps: Sleeps
    factory: GitHubFactory

    def adapter(self) -> GitHubRepo:
        return self.factory.for_repo(self.full_name, self.installation_id)


@pytest.fixture
def repo(standin: StandIn, tmp_path: Path, app_key: tuple[str, str]) -> Repo:
    n = next(_names)
    owner = f"team{n}"
    source = tmp_path / "src"
    (source / ".github/workflows").mkdir(parents=True)
    (source / "params.yaml").write_text("lr: 0.1\n")
    (source / ".github/mlops-bot.yml").write_text("models: {}\n")
    (source / ".github/workflows/train.yml").write_text("name: train\non: [workflow_dispatch]\njobs: {}\n")
    full_name = f"{owner}/model{n}"
    standin.create_user(owner)
    standin.create_repo(full_name, source=source)
    installation_id = standin.install_app(full_name)
    settings = Settings(
        MLOPS_BOT_GITHUB_BASE_URL=standin.base_url,  # the field's aliases are the only names it takes
        app_id=APP_ID,
        private_key=app_key[0],
    )
    sleeps = Sleeps()
    factory = GitHubFactory(settings, retry=RetryPolicy(sleep=sleeps), throttle=False)
    return Repo(standin, full_name, owner, installation_id, settings, sleeps, factory)


# -- comments ---------------------------------------------------------------------------------------------
def test_upsert_comment_twice_edits_one_comment(repo: Repo) -> None:
    s = repo.standin
    number = s.create_issue(repo.full_name, title="t", body=None, author=repo.owner).number
    s.comment(repo.full_name, number, f"quoting {MARKER} is not the bot's comment", author=repo.owner)
    gh = repo.adapter()
    first = gh.upsert_comment(number, MARKER, f"{MARKER}\ncard v1")
    second = gh.upsert_comment(number, MARKER, f"{MARKER}\ncard v2")
    assert first.id == second.id
    bodies = [c.body for c in s.comments(repo.full_name, number)]
    assert bodies == [f"quoting {MARKER} is not the bot's comment", f"{MARKER}\ncard v2"]
    posts = [r for r in s.requests if r.method == "POST" and r.path.endswith(f"/issues/{number}/comments")]
    assert len(posts) == 1


def test_upsert_comment_after_a_lost_response_leaves_one_comment(repo: Repo) -> None:
    s = repo.standin
    number = s.create_issue(repo.full_name, title="t", body=None, author=repo.owner).number
    gh = repo.adapter()
    s.faults.next("lost_response", methods={"POST"})
    gh.upsert_comment(number, MARKER, f"{MARKER}\ncard")
    assert [c.body for c in s.comments(repo.full_name, number)] == [f"{MARKER}\ncard"]
    assert repo.sleeps.calls  # it did retry


def test_too_long_body_is_refused_before_sending(repo: Repo) -> None:
    gh = repo.adapter()
    before = len(repo.standin.requests)
    with pytest.raises(BodyTooLong, match="at most 65536"):
        gh.upsert_comment(1, MARKER, MARKER + "x" * MAX_COMMENT_CHARS)
    assert len(repo.standin.requests) == before


def test_react_and_permission(repo: Repo) -> None:
    s = repo.standin
    number = s.create_issue(repo.full_name, title="t", body=None, author=repo.owner).number
    comment_id = s.comment(repo.full_name, number, "/train", author=repo.owner)
    gh = repo.adapter()
    gh.react(comment_id, "eyes")
    gh.react(comment_id, "eyes")
    assert [r.content for r in s.reactions(repo.full_name, comment_id)] == ["eyes"]
    s.create_user(f"{repo.owner}-dev")
    s.set_permission(repo.full_name, f"{repo.owner}-dev", "maintain")
    assert gh.permission(f"{repo.owner}-dev") is Permission.MAINTAIN
    assert gh.permission(repo.owner) is Permission.ADMIN
    assert gh.permission("nobody-at-all") is Permission.NONE


# -- reads ------------------------------------------------------------------------------------------------
def test_reads_default_branch_files_and_pull_facts(repo: Repo) -> None:
    s = repo.standin
    gh = repo.adapter()
    assert gh.default_branch() == "main"
    assert gh.read_file(".github/mlops-bot.yml") == "models: {}\n"
    assert gh.read_file("missing.yml") is None
    assert gh.read_file(".github") is None
    sha = s.commit(repo.full_name, "exp", {"params.yaml": "lr: 0.2\n"}, "tune", author=repo.owner)
    assert gh.read_file("params.yaml", ref="exp") == "lr: 0.2\n"
    number = s.open_pull(repo.full_name, head="exp", title="Tune", author=repo.owner)
    s.approve(repo.full_name, number, by="reviewer-a")
    s.approve(repo.full_name, number, by="reviewer-a")
    facts = gh.pull(number, approvals=True)
    assert (facts.head_sha, facts.head_ref, facts.base_ref, facts.approvals) == (sha, "exp", "main", 1)
    assert not facts.is_fork and facts.state == "open" and not facts.merged


# -- issues -----------------------------------------------------------------------------------------------
def test_upsert_issue_is_idempotent_and_reopens(repo: Repo) -> None:
    gh = repo.adapter()
    marker = "<!-- mlops-bot:drift:iris -->"
    first = gh.upsert_issue(marker, "Drift: iris", f"{marker}\n2 columns", ["drift"])
    again = gh.upsert_issue(marker, "Drift: iris", f"{marker}\n3 columns", ["drift", "retrain"])
    assert first.number == again.number
    issues = repo.standin.issues(repo.full_name)
    assert len(issues) == 1 and issues[0].body == f"{marker}\n3 columns"
    assert sorted(issues[0].labels) == ["drift", "retrain"]
    assert gh.find_issue(marker) is not None

    gh.close_issue(first.number)
    reopened = gh.upsert_issue(marker, "Drift: iris", f"{marker}\nback", ["drift"])
    assert reopened.number == first.number and repo.standin.issues(repo.full_name)[0].state == "open"

    gh.close_issue(first.number)
    fresh = gh.upsert_issue(marker, "Drift: iris", f"{marker}\nnew episode", ["drift"], reopen=False)
    assert fresh.number != first.number
    assert gh.find_issue("<!-- nothing -->") is None


# -- commits, pulls, checks, deployments, workflows ----------------------------------------------------------
def test_commit_files_makes_one_commit_and_repeats_as_a_no_op(repo: Repo) -> None:
    s = repo.standin
    gh = repo.adapter()
    base = s.repo(repo.full_name).git.branch_sha("main")
    files = {"dvc.lock": "schema: '2.0'\n", "params.yaml": "lr: 0.3\n"}
    sha = gh.commit_files("mlops-bot/retrain-iris", "main", files, "Retrain iris")
    git = s.repo(repo.full_name).git
    assert git.commit_info(sha).parents == (base,)
    assert git.commits_between(base, sha) == [sha]
    assert gh.commit_files("mlops-bot/retrain-iris", "main", files, "Retrain iris") == sha
    newer = gh.commit_files("mlops-bot/retrain-iris", "main", {"params.yaml": "lr: 0.4\n"}, "again")
    assert git.commit_info(newer).parents == (sha,)
    assert gh.read_file("params.yaml", ref="mlops-bot/retrain-iris") == "lr: 0.4\n"
    assert gh.read_file("dvc.lock", ref="mlops-bot/retrain-iris") == "schema: '2.0'\n"
    assert git_blob_sha(b"lr: 0.4\n") == git.entry_at(newer, "params.yaml").sha  # type: ignore[union-attr]


def test_upsert_pull_finds_the_open_pull_by_head(repo: Repo) -> None:
    gh = repo.adapter()
    gh.commit_files("retrain", "main", {"params.yaml": "lr: 0.5\n"}, "retrain")
    first = gh.upsert_pull("retrain", "main", "Retrain iris", "because drift")
    second = gh.upsert_pull("retrain", "main", "Retrain iris (2)", "still drifting")
    assert first.number == second.number
    pulls = repo.standin.pulls(repo.full_name)
    assert len(pulls) == 1
    assert repo.standin.repo(repo.full_name).issues[first.number].title == "Retrain iris (2)"


def test_upsert_check_run_by_name_on_the_head_sha(repo: Repo) -> None:
    s = repo.standin
    sha = s.commit(repo.full_name, "exp", {"x": "1"}, "x", author=repo.owner)
    gh = repo.adapter()
    first = gh.upsert_check_run(sha, "mlops-bot/iris", status="in_progress", title="Training")
    second = gh.upsert_check_run(
        sha,
        "mlops-bot/iris",
        status="completed",
        conclusion="success",
        title="Card",
        summary="accuracy 0.95",
        text="details",
    )
    assert first == second
    (run,) = s.check_runs(repo.full_name, sha)
    assert (run.status, run.conclusion, run.output["summary"]) == ("completed", "success", "accuracy 0.95")


def test_deployment_and_status(repo: Repo) -> None:
    gh = repo.adapter()
    deployment_id = gh.create_deployment(
        "main", "production", {"model": "iris", "version": "3"}, "promote v3"
    )
    gh.set_deployment_status(
        deployment_id, "success", description="champion is v3", log_url="http://x.invalid"
    )
    (deployment,) = repo.standin.deployments(repo.full_name)
    assert deployment.payload == {"model": "iris", "version": "3"}
    assert [st.state for st in deployment.statuses] == ["success"]
    assert deployment.statuses[0].log_url == "http://x.invalid"


def test_dispatch_workflow(repo: Repo) -> None:
    gh = repo.adapter()
    gh.dispatch_workflow("train.yml", "main", {"model": "iris"})
    assert [d.inputs for d in repo.standin.dispatches(repo.full_name)] == [{"model": "iris"}]
    with pytest.raises(GitHubError, match=r"No workflow 'nope\.yml'"):
        gh.dispatch_workflow("nope.yml", "main", {})


# -- failures ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "wait"), [("502", None), ("500", None), ("429", 1.0), ("secondary", 1.0)])
def test_writes_complete_once_under_injected_faults(repo: Repo, kind: str, wait: float | None) -> None:
    s = repo.standin
    gh = repo.adapter()
    s.faults.next(kind, times=2, methods=WRITE_METHODS)
    issue = gh.upsert_issue("<!-- k -->", "Drift", "<!-- k -->\nbody", ["drift"])
    assert len(s.issues(repo.full_name)) == 1
    s.faults.next(kind, methods=WRITE_METHODS)
    gh.upsert_comment(issue.number, MARKER, "card")
    assert len(s.comments(repo.full_name, issue.number)) == 1
    assert len(repo.sleeps.calls) == 3
    if wait is not None:
        assert repo.sleeps.calls == [wait] * 3  # Retry-After honoured


def test_reads_retry_dropped_connections(repo: Repo) -> None:
    gh = repo.adapter()
    repo.standin.faults.next("drop", methods={"GET"})
    assert gh.default_branch() == "main"


def test_gives_up_with_a_clear_error_when_github_keeps_failing(repo: Repo) -> None:
    s = repo.standin
    gh = GitHubRepo(
        repo.factory.client(s.installation_token(repo.installation_id)),
        repo.full_name,
        bot_login="mlops-bot[bot]",
        retry=RetryPolicy(attempts=3, sleep=repo.sleeps),
    )
    s.faults.next("502", times=5)
    with pytest.raises(GitHubError, match="kept failing after 3 attempt"):
        gh.default_branch()


def test_retry_delay_follows_githubs_rate_limit_headers() -> None:
    now = 1_000_000.0
    policy = RetryPolicy(clock=lambda: now)
    primary = GithubException(
        403,
        {"message": "API rate limit exceeded for user."},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 30)},
    )
    assert retry_delay(primary, 1, policy) == 31.0
    secondary = GithubException(403, {"message": "You have exceeded a secondary rate limit."}, {})
    assert retry_delay(secondary, 1, policy) == 60.0
    after = GithubException(429, {"message": "slow down"}, {"Retry-After": "7"})
    assert retry_delay(after, 1, policy) == 7.0
    assert retry_delay(GithubException(404, {"message": "Not Found"}, {}), 1, policy) is None
    assert retry_delay(GithubException(403, {"message": "Must have admin rights"}, {}), 1, policy) is None
    assert retry_delay(ValueError("bug"), 1, policy) is None


def test_total_wait_is_bounded() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(budget_s=10, sleep=sleeps)

    def rate_limited() -> Any:
        raise GithubException(403, {"message": "You have exceeded a secondary rate limit."}, {})

    from bot.adapters.github import _retrying

    with pytest.raises(GitHubError, match="Try again later"):
        _retrying(policy, "test", rate_limited)
    assert sleeps.calls == []


# -- credentials ------------------------------------------------------------------------------------------
def test_app_installation_token_is_minted_once_and_reused_until_expiry(
    repo: Repo, app_key: tuple[str, str]
) -> None:
    now = [time.time()]
    factory = GitHubFactory(
        repo.settings, retry=RetryPolicy(sleep=Sleeps()), clock=lambda: now[0], throttle=False
    )
    mints = lambda: sum(  # noqa: E731
        1 for r in repo.standin.requests if r.path.endswith("/access_tokens") and r.status == 201
    )
    before = mints()
    for _ in range(3):
        gh = factory.for_repo(repo.full_name)  # the installation is found from the repository
        assert gh.bot_login == "mlops-bot[bot]"
        assert gh.default_branch() == "main"
    assert mints() - before == 1
    assert factory.app is not None and factory.app.mints == 1

    now[0] += 3600 - 60  # a minute before the hour-long token expires: too close, mint a new one
    factory.for_repo(repo.full_name, repo.installation_id).default_branch()
    assert mints() - before == 2


def test_plain_token_uses_the_tokens_user_or_the_configured_bot(repo: Repo) -> None:
    s = repo.standin
    person = s.create_user(f"{repo.owner}-pat")
    gh = GitHubFactory(
        Settings(MLOPS_BOT_GITHUB_BASE_URL=s.base_url, MLOPS_BOT_GITHUB_TOKEN=person), throttle=False
    ).for_repo(repo.full_name)
    assert gh.bot_login == f"{repo.owner}-pat"
    actions_token = s.installation_token(repo.installation_id)  # what GITHUB_TOKEN is inside Actions
    settings = Settings(
        MLOPS_BOT_GITHUB_BASE_URL=s.base_url, MLOPS_BOT_GITHUB_TOKEN=actions_token, bot_login="mlops-bot[bot]"
    )
    gh = GitHubFactory(settings, throttle=False).for_repo(repo.full_name)
    assert gh.bot_login == "mlops-bot[bot]"


def test_missing_credentials_say_what_to_set() -> None:
    with pytest.raises(GitHubError, match="MLOPS_BOT_GITHUB_TOKEN"):
        GitHubFactory(Settings())


def test_tokens_never_reach_the_logs(repo: Repo, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gh = repo.adapter()
    repo.standin.faults.next("502", methods=WRITE_METHODS)
    gh.upsert_issue("<!-- log -->", "t", "<!-- log -->", [])
    tokens = [t for t in repo.standin.tokens if t.startswith("ghs_")]
    assert tokens and caplog.records
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(token in text for token in tokens)
