"""Issue 11 defects 1, 3 and 5: a dry run changes nothing; every job run twice leaves what the first left;
no job asks `GET /user` with an installation token.

Real parts: the GitHub stand-in driven by PyGithub and a sqlite MLflow registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.core import keys
from bot.core.config import CONFIG_PATH
from bot.core.tags import RunTags
from bot.jobs.common import JobEnv
from bot.jobs.drift_report import report
from bot.jobs.promote import promote
from bot.jobs.reconcile import reconcile
from bot.jobs.rollback import rollback
from bot.settings import Settings
from bot.standin import StandIn
from tests.support.mlflow_store import sqlite_registry
from tests.support.tiny_model import one_stage_lock, tiny_model

REPO = "acme/churn"
MODEL = "churn"

CONFIG = """\
models:
  - name: churn
    stage: train
    output: model.pkl
    metrics:
      - name: accuracy
        tolerance: 0.5
    drift:
      reference: data/ref.csv
      current: data/cur.csv
reconcile: {reconcile}
"""

LOCK = one_stage_lock


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("effects-model"))


class World:
    def __init__(self, standin: StandIn, store: MlflowRegistry, tmp: Path, reconcile: str) -> None:
        self.standin, self.store, self.tmp = standin, store, tmp
        src = tmp / "src"
        (src / ".github").mkdir(parents=True)
        (src / CONFIG_PATH).write_text(CONFIG.format(reconcile=reconcile))
        (src / "dvc.lock").write_text(LOCK("h1"))
        standin.create_repo(REPO, source=src)
        standin.create_user("alice")
        self.token = standin.installation_token(standin.install_app(REPO))

    def env(self) -> JobEnv:
        settings = Settings(
            github_token=self.token,
            github_base_url=self.standin.base_url,
            github_throttle=False,
            mlflow_tracking_uri=self.store.tracking_uri,
            database_url=f"sqlite:///{self.tmp / 'bot.db'}",
        )
        return JobEnv(settings=settings, repo=REPO)

    def trained(self, model_file: Path, output_hash: str, accuracy: float) -> str:
        return self.store.log_training_run(
            experiment="effects",
            model=MODEL,
            run_name=output_hash,
            params={},
            metrics={"accuracy": accuracy},
            tags={RunTags.OUTPUT_HASH: output_hash, RunTags.REPO: REPO},
            artifacts={},
            model_file=model_file,
        ).run_id

    def promote(self, output_hash: str, reply_to: int | None = None) -> Any:
        folder = self.tmp / f"checkout-{output_hash}"
        folder.mkdir(exist_ok=True)
        (folder / "dvc.lock").write_text(LOCK(output_hash))
        sha = self.standin.repo(REPO).git.branch_sha("main")
        assert sha is not None
        [outcome] = promote(
            self.env(), folder, sha=sha, models=[MODEL], pr=None, reply_to=reply_to, dry_run=False
        )
        return outcome

    def two_versions(self, model_file: Path) -> None:
        self.trained(model_file, "h1", 0.9)
        assert self.promote("h1").status == "promoted"
        self.trained(model_file, "h2", 0.91)
        assert self.promote("h2").status == "promoted"

    def snapshot(self) -> dict[str, Any]:
        """Every GitHub object and registry fact a job could change."""
        issues = self.standin.issues(REPO)
        return {
            "comments": sorted(
                (n.number, c.id, c.body or "") for n in issues for c in self.standin.comments(REPO, n.number)
            ),
            "issues": sorted((i.number, i.state, i.title, i.body or "") for i in issues),
            "deployments": sorted(
                (d.id, d.environment, repr(d.payload), [s.state for s in d.statuses])
                for d in self.standin.deployments(REPO)
            ),
            "versions": sorted(
                (v.version, v.aliases, tuple(sorted(v.tags.items()))) for v in self.store.versions(MODEL)
            ),
        }


@pytest.fixture
def make_world(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    store = sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())
    with StandIn(tmp_path / "github") as standin:
        yield lambda reconcile="report": World(standin, store, tmp_path, reconcile)
        standin.check()


def _user_calls(standin: StandIn) -> list[str]:
    return [f"{r.method} {r.path}" for r in standin.requests if r.method == "GET" and r.path == "/user"]


# -- defect 1: a dry run changes nothing -------------------------------------------------------------------


def test_rollback_dry_run_answers_with_the_plan_and_changes_nothing(
    make_world: Any, model_file: Path
) -> None:
    w = make_world()
    w.two_versions(model_file)
    issue = w.standin.create_issue(REPO, title="roll back?", body="", author="alice")
    before = w.snapshot()
    outcome = rollback(w.env(), model=MODEL, to="1", reply_to=issue.number, dry_run=True)
    assert (outcome.status, outcome.previous, outcome.version) == ("planned", "2", "1")
    [answer] = [c.body or "" for c in w.standin.comments(REPO, issue.number)]
    assert "v2" in answer and "v1" in answer and "production" in answer and "dry run" in answer.lower()
    after = w.snapshot()
    after["comments"] = [c for c in after["comments"] if c[0] != issue.number]
    assert after == before  # no alias, no tag, no Deployment, no issue
    real = rollback(w.env(), model=MODEL, to="1", reply_to=issue.number)
    assert real.status == "rolled-back" and w.store.version_by_alias(MODEL, "champion").version == "1"


def test_reconcile_correct_dry_run_changes_nothing(make_world: Any, model_file: Path) -> None:
    w = make_world("correct")
    w.two_versions(model_file)  # git pins h1 (v1); the champion is v2
    spec = w.env().config.model(MODEL)
    before = w.snapshot()
    outcome = reconcile(w.env(), spec, dry_run=True)
    assert (outcome.status, outcome.actual_version, outcome.desired_version) == ("planned", "2", "1")
    assert w.snapshot() == before
    assert reconcile(w.env(), spec).status == "corrected"
    assert w.store.version_by_alias(MODEL, "champion").version == "1"


# -- defect 3: every effect keyed ------------------------------------------------------------------------


def test_rollback_twice_with_one_job_key_leaves_one_deployment_and_one_reply(
    make_world: Any, model_file: Path
) -> None:
    w = make_world()
    w.two_versions(model_file)
    issue = w.standin.create_issue(REPO, title="roll back", body="", author="alice")
    first = rollback(w.env(), model=MODEL, to=None, reply_to=issue.number, key="c41")
    assert first.status == "rolled-back"
    once = w.snapshot()
    again = rollback(w.env(), model=MODEL, to=None, reply_to=issue.number, key="c41")
    assert again.status == "rolled-back" and again.deployment_id == first.deployment_id
    assert w.snapshot() == once
    assert len(w.standin.comments(REPO, issue.number)) == 1


def test_a_refused_promotion_reply_is_one_comment_on_retry(make_world: Any, model_file: Path) -> None:
    w = make_world()
    w.trained(model_file, "h1", 0.9)
    issue = w.standin.create_issue(REPO, title="merge", body="", author="alice")
    w.promote("h1", reply_to=issue.number)
    once = w.snapshot()
    w.promote("h1", reply_to=issue.number)
    assert w.snapshot() == once


def test_reconcile_in_sync_retried_after_a_crash_leaves_one_comment(
    make_world: Any, model_file: Path
) -> None:
    w = make_world()
    w.two_versions(model_file)
    spec = w.env().config.model(MODEL)
    assert reconcile(w.env(), spec).status == "drifted-reported"  # git wants v1, the champion is v2
    [issue] = w.standin.issues(REPO)
    w.store.set_alias(MODEL, "champion", "1")
    crashing = w.env()

    def crash(number: int) -> None:
        raise RuntimeError("the job died between the comment and the close")

    crashing.gh.close_issue = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        reconcile(crashing, spec)
    assert reconcile(w.env(), spec).status == "in-sync"
    once = w.snapshot()
    assert [i.state for i in w.standin.issues(REPO)] == ["closed"]
    assert len(w.standin.comments(REPO, issue.number)) == 1
    reconcile(w.env(), spec)
    assert w.snapshot() == once


def test_drift_failed_twice_leaves_one_comment(make_world: Any) -> None:
    w = make_world()
    issue = w.standin.create_issue(REPO, title="drift?", body="", author="alice")
    env = w.env()
    spec = env.config.model(MODEL)
    sha = w.standin.repo(REPO).git.branch_sha("main")
    report(env, spec, None, head_sha=sha, error="no such file data/cur.csv", reply_to=issue.number)
    once = w.snapshot()
    report(env, spec, None, head_sha=sha, error="no such file data/cur.csv", reply_to=issue.number)
    assert w.snapshot() == once
    assert len(w.standin.comments(REPO, issue.number)) == 1


def test_the_github_port_offers_no_unkeyed_comment() -> None:
    from bot.adapters.github import GitHubRepo
    from bot.ports import RepoGitHub

    assert not hasattr(RepoGitHub, "comment")
    assert not hasattr(GitHubRepo, "comment")


# -- defect 5: no GET /user -------------------------------------------------------------------------------


def test_a_job_never_asks_get_user(make_world: Any, model_file: Path) -> None:
    w = make_world()
    w.two_versions(model_file)
    rollback(w.env(), model=MODEL, to=None, reply_to=None)
    assert w.standin.requests, "the stand-in logs requests"
    assert _user_calls(w.standin) == []


def test_a_rollback_retried_after_a_crash_between_steps_makes_no_second_deployment(
    make_world: Any, model_file: Path
) -> None:
    w = make_world()
    w.two_versions(model_file)
    issue = w.standin.create_issue(REPO, title="roll back", body="", author="alice")
    crashing = w.env()

    def crash(*args: object) -> None:
        raise RuntimeError("the job died after creating the Deployment")

    crashing.registry.set_alias = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        rollback(crashing, model=MODEL, to=None, reply_to=issue.number, key="c77")
    deployments = len(w.standin.deployments(REPO))
    done = rollback(w.env(), model=MODEL, to=None, reply_to=issue.number, key="c77")
    assert done.status == "rolled-back" and w.store.version_by_alias(MODEL, "champion").version == "1"
    assert len(w.standin.deployments(REPO)) == deployments, "the retry found the Deployment it had made"
    assert len(w.standin.comments(REPO, issue.number)) == 1


def test_a_job_told_its_login_asks_no_get_user_even_with_a_personal_token(make_world: Any) -> None:
    from bot.adapters.github import GitHubFactory

    w = make_world()
    token = w.standin.create_user("ci-bot")
    told = Settings(github_token=token, github_base_url=w.standin.base_url, bot_login="ci-bot")
    assert GitHubFactory(told, throttle=False).for_repo(REPO).bot_login == "ci-bot"
    assert _user_calls(w.standin) == []
    untold = Settings(github_token=token, github_base_url=w.standin.base_url)
    assert GitHubFactory(untold, throttle=False).for_repo(REPO).bot_login == "ci-bot"  # asks, once
    assert len(_user_calls(w.standin)) == 1


# -- issue 12: a command's plan is found among the comments since the command, however long the thread ------


def test_a_dry_run_answers_each_command_once_and_its_look_up_does_not_grow_with_the_thread(
    make_world: Any, model_file: Path
) -> None:
    w = make_world()
    w.trained(model_file, "h1", 0.9)
    issue = w.standin.create_issue(REPO, title="promote?", body="", author="alice")
    folder = w.tmp / "checkout-plan"
    folder.mkdir()
    (folder / "dvc.lock").write_text(LOCK("h1"))
    sha = w.standin.repo(REPO).git.branch_sha("main")
    assert sha is not None

    def plan(comment_id: int, asked_at: str) -> int:
        """Requests spent answering `/promote --dry-run` comment `comment_id`, made at `asked_at`."""
        start = len(w.standin.requests)
        [outcome] = promote(w.env(), folder, sha=sha, models=[MODEL], pr=None, reply_to=issue.number,
                            dry_run=True, command=(f"c{comment_id}", asked_at))  # fmt: skip
        assert outcome.status == "planned"
        return len([r for r in w.standin.requests[start:] if "/comments" in r.path])

    def answers() -> list[str]:
        return [
            c.body or ""
            for c in w.standin.comments(REPO, issue.number)
            if "reply kind=plan" in (c.body or "")
        ]

    def command(body: str) -> tuple[int, str]:
        made = w.standin.comment(REPO, issue.number, body, author="alice")
        [c] = [c for c in w.standin.comments(REPO, issue.number) if c.id == made]
        return made, c.created_at

    first = command("/promote --dry-run")
    short = plan(*first)  # look through the comments since the command, then answer
    plan(*first)  # the retried job edits its answer
    assert len(answers()) == 1
    for n in range(300):
        w.standin.comment(REPO, issue.number, f"comment {n}", author="alice")
    time.sleep(2.1)  # the thread is older than the next command (GitHub's times are to the second)
    assert (
        plan(*command("/promote --dry-run")) == short
    )  # 300 more comments: not one more page to look through
    assert len(answers()) == 2  # a second command, a second answer


def test_a_promotion_reply_is_found_among_the_comments_since_its_version_however_long_the_thread(
    make_world: Any, model_file: Path
) -> None:
    w = make_world()
    w.trained(model_file, "h1", 0.9)
    issue = w.standin.create_issue(REPO, title="merged", body="", author="alice")
    for n in range(300):  # a long discussion, weeks before the merge
        old = w.standin.add_comment(REPO, issue.number, f"comment {n}", author="alice")
        old.created_at = old.updated_at = "2026-01-01T00:00:00Z"

    def promoted() -> tuple[str, int]:
        start = len(w.standin.requests)
        outcome = w.promote("h1", reply_to=issue.number)
        pages = [r for r in w.standin.requests[start:] if r.method == "GET" and r.path.endswith("/comments")]
        return outcome.status, len(pages)

    assert promoted() == ("promoted", 1)  # not the 4 pages of the whole thread
    assert promoted() == ("already", 1)  # the retry finds its answer, among the same few comments
    replies = [c for c in w.standin.comments(REPO, issue.number) if "reply kind=promotion" in (c.body or "")]
    assert len(replies) == 1


def test_an_answer_to_a_merge_or_a_rollback_is_looked_for_only_since_it_was_asked_for(
    make_world: Any, model_file: Path
) -> None:
    w = make_world()
    w.two_versions(model_file)
    w.trained(model_file, "h3", 0.92)
    issue = w.standin.create_issue(REPO, title="merged", body="", author="alice")
    for n in range(300):  # a long discussion, just before the merge (the version's clock margin covers it)
        w.standin.comment(REPO, issue.number, f"comment {n}", author="alice")
    time.sleep(2.1)  # GitHub's times are to the second (and the look-up starts a second early)
    asked_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    folder = w.tmp / "checkout-h3"
    folder.mkdir()
    (folder / "dvc.lock").write_text(LOCK("h3"))
    sha = w.standin.repo(REPO).git.branch_sha("main")
    assert sha is not None

    def pages(run: Callable[[], Any]) -> tuple[str, int]:
        start = len(w.standin.requests)
        status = run().status
        return status, len(
            [r for r in w.standin.requests[start:] if r.method == "GET" and r.path.endswith("/comments")]
        )

    def merged() -> Any:
        [outcome] = promote(w.env(), folder, sha=sha, models=[MODEL], pr=None, reply_to=issue.number,
                            dry_run=False, command=(keys.merge_effect(sha), asked_at))  # fmt: skip
        return outcome

    assert pages(merged) == ("promoted", 1)  # not the 4 pages of the thread
    assert pages(merged) == ("already", 1)  # the merge delivered again: its answer is found, not repeated
    key = keys.comment_effect(99)
    rolled = lambda: rollback(w.env(), model=MODEL, to="2", reply_to=issue.number, key=key, asked_at=asked_at)  # noqa: E731
    assert pages(rolled) == ("rolled-back", 1)
    assert pages(rolled) == ("rolled-back", 1)  # the retried job says it again, in the same comment
    bodies = [c.body or "" for c in w.standin.comments(REPO, issue.number)]
    assert len([b for b in bodies if "reply kind=promotion" in b]) == 1
    assert len([b for b in bodies if "reply kind=rollback" in b]) == 1


# -- issue 11: every dry run, one table: nothing changes, and the answer names what the real run then does ------


def _prepare(w: Any, model_file: Path, command: str) -> None:
    if command == "promote":
        w.trained(model_file, "h1", 0.9)  # trained, never promoted
    else:
        w.two_versions(model_file)  # git pins h1 (v1); the champion is v2


def _run(w: Any, command: str, issue: int, *, dry_run: bool) -> tuple[str, str]:
    """(status, what the run said: the posted answer, or for reconcile its reason)."""
    if command == "promote":
        folder = w.tmp / "checkout-h1"
        folder.mkdir(exist_ok=True)
        (folder / "dvc.lock").write_text(LOCK("h1"))
        sha = w.standin.repo(REPO).git.branch_sha("main")
        [outcome] = promote(
            w.env(), folder, sha=sha, models=[MODEL], pr=None, reply_to=issue, dry_run=dry_run
        )
        said = next(
            (c.body or "" for c in w.standin.comments(REPO, issue) if "reply kind=plan" in (c.body or "")), ""
        )
        return outcome.status, said
    if command == "rollback":
        done = rollback(w.env(), model=MODEL, to="1", reply_to=issue, dry_run=dry_run)
        return done.status, "\n".join(c.body or "" for c in w.standin.comments(REPO, issue))
    spec = w.env().config.model(MODEL)
    outcome = reconcile(w.env(), spec, dry_run=dry_run)
    return outcome.status, " ".join(str(getattr(outcome, "reason", "")).split())


@pytest.mark.parametrize(
    ("command", "real", "names"),
    [
        ("promote", "promoted", ["a new version of the registered model", "`champion`", "`production`"]),
        ("rollback", "rolled-back", ["v2", "v1", "production"]),
        ("reconcile", "corrected", ["`champion` v2 → v1", "(git pins `h1`)", "`previous` → v2"]),
    ],
)
def test_every_dry_run_changes_nothing_and_names_what_the_real_run_does(
    make_world: Any, model_file: Path, command: str, real: str, names: list[str]
) -> None:
    w = make_world("correct")
    issue = w.standin.create_issue(REPO, title=f"/{command} --dry-run", body="", author="alice").number
    _prepare(w, model_file, command)

    def state() -> dict[str, Any]:
        now = w.snapshot()
        now["comments"] = [c for c in now["comments"] if c[0] != issue]  # the dry run's own answer aside
        return now

    before = state()
    status, said = _run(w, command, issue, dry_run=True)
    assert status == "planned"
    assert state() == before, f"the {command} dry run changed GitHub or the registry"
    assert all(n in said for n in names), said
    assert _run(w, command, issue, dry_run=False)[0] == real
    assert w.store.version_by_alias(MODEL, "champion").version == "1"  # what the plan said would happen
