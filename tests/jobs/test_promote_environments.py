"""Staging, then production (issue 15): a merge promotes to staging; `/promote --to production` (or the soak)
moves the version on, honouring production's protection rules as the GitHub stand-in describes them.

Real parts: the GitHub stand-in (protection rules set by its admin through PyGithub, every request checked
against GitHub's REST description), a sqlite MLflow registry, the bot's sqlite store for monitoring checks.
The clock is injected: nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github
from github.EnvironmentProtectionRuleReviewer import ReviewerParams

from bot.adapters.mlflow import MlflowRegistry
from bot.adapters.store import Store
from bot.core.config import CONFIG_PATH
from bot.core.monitoring.history import CheckRecord
from bot.core.tags import RunTags, VersionTags
from bot.jobs.common import JobEnv
from bot.jobs.promote import promote, store_lock
from bot.jobs.promote_env import move_on
from bot.jobs.reconcile import reconcile
from bot.jobs.soak import soak, store_checks
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
promotion:
  environments: [staging, production]
{soak}"""

LOCK = one_stage_lock


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("environments-model"))


class World:
    def __init__(self, standin: StandIn, store: MlflowRegistry, tmp: Path, soak: str) -> None:
        self.standin, self.store, self.tmp = standin, store, tmp
        src = tmp / "src"
        (src / ".github").mkdir(parents=True)
        (src / CONFIG_PATH).write_text(CONFIG.format(soak=f"  soak: {soak}\n" if soak else ""))
        standin.create_repo(REPO, source=src)
        self.admin_token = standin.create_user("ada")
        standin.set_permission(REPO, "ada", "admin")
        for login in ("alice", "rita"):
            standin.create_user(login)
            standin.set_permission(REPO, login, "maintain")
        self.token = standin.installation_token(standin.install_app(REPO))
        self.database_url = f"sqlite:///{tmp / 'bot.db'}"
        self.built: list[str] = []

    def protect_production(self, *, reviewer: str | None = None, wait_minutes: int = 0) -> None:
        """What a repository admin sets in Settings → Environments → production."""
        admin = Github(base_url=self.standin.base_url, auth=Auth.Token(self.admin_token), retry=None)
        reviewers = [ReviewerParams("User", self.standin.users[reviewer].id)] if reviewer else []
        admin.get_repo(REPO).create_environment("production", wait_timer=wait_minutes, reviewers=reviewers)

    def env(self) -> JobEnv:
        settings = Settings(
            github_token=self.token,
            github_base_url=self.standin.base_url,
            github_throttle=False,
            mlflow_tracking_uri=self.store.tracking_uri,
            database_url=self.database_url,
        )
        return JobEnv(settings=settings, repo=REPO)

    def merge(
        self, model_file: Path, output_hash: str, accuracy: float, pr: int, *, dry_run: bool = False
    ) -> Any:
        self.store.log_training_run(
            experiment="environments",
            model=MODEL,
            run_name=output_hash,
            params={},
            metrics={"accuracy": accuracy},
            tags={RunTags.OUTPUT_HASH: output_hash, RunTags.REPO: REPO},
            artifacts={},
            model_file=model_file,
        )
        folder = self.tmp / f"checkout-{output_hash}"
        folder.mkdir(exist_ok=True)
        (folder / "dvc.lock").write_text(LOCK(output_hash))
        sha = self.standin.repo(REPO).git.branch_sha("main")
        assert sha is not None

        def build(version: Any, git_sha: str) -> tuple[str, str]:
            self.built.append(version.version)
            return f"churn:v{version.version}", ""

        [outcome] = promote(
            self.env(),
            folder,
            sha=sha,
            models=[MODEL],
            pr=pr,
            reply_to=pr,
            dry_run=dry_run,
            build_bento=build,
        )
        return outcome

    def pull(self, title: str) -> int:
        """A pull request (its branch changes params.yaml), where the merge's and the commands' answers go."""
        branch = title.replace(" ", "-")
        self.standin.commit(
            REPO, branch, {"params.yaml": f"t: {branch}\n"}, title, author="alice", base="main"
        )
        return self.standin.open_pull(REPO, head=branch, title=title, author="alice")

    def move(self, asked_by: str | None, reply_to: int, *, now: dt.datetime, key: str, **kw: Any) -> Any:
        return move_on(
            self.env(),
            model=MODEL,
            to="production",
            asked_by=asked_by,
            reply_to=reply_to,
            key=key,
            now=lambda: now,
            lock=lambda name: store_lock(self.database_url, name),
            **kw,
        )

    def alias(self, name: str) -> str | None:
        version = self.store.version_by_alias(MODEL, name)
        return version.version if version else None

    def deployments(self) -> list[tuple[str, str, list[str]]]:
        """Each Deployment as a reader of the repository's Deployments page sees it: environment, version,
        statuses (oldest first)."""
        return sorted(
            (d.environment, str(d.payload.get("version")), [s.state for s in d.statuses])
            for d in self.standin.deployments(REPO)
        )

    def bodies(self, number: int) -> list[str]:
        return [c.body or "" for c in self.standin.comments(REPO, number)]

    def snapshot(self) -> dict[str, Any]:
        return {
            "deployments": self.deployments(),
            "versions": sorted(
                (v.version, v.aliases, tuple(sorted(v.tags.items()))) for v in self.store.versions(MODEL)
            ),
        }


@pytest.fixture
def make_world(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    store = sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())
    with StandIn(tmp_path / "github") as standin:
        yield lambda soak="": World(standin, store, tmp_path, soak)
        standin.check()  # every request the bot made was one GitHub's REST description allows


def _arrived(world: World, version: str, environment: str) -> dt.datetime:
    found = world.store.version(MODEL, version)
    assert found is not None
    return dt.datetime.fromisoformat(found.tags[f"{VersionTags.PROMOTED_AT}.{environment}"])


def test_merge_serves_staging_then_a_required_reviewer_moves_it_to_production(
    make_world: Any, model_file: Path
) -> None:
    w = make_world()
    w.protect_production(reviewer="rita", wait_minutes=30)
    pr = w.pull("retrain")
    staged = w.merge(model_file, "h1", 0.9, pr)
    assert (staged.status, staged.version, staged.environment, staged.alias) == (
        "promoted",
        "1",
        "staging",
        "staging",
    )
    assert (w.alias("staging"), w.alias("champion")) == ("1", None)
    assert w.deployments() == [("staging", "1", ["in_progress", "success"])]
    assert "version 1 is now in `staging` (alias `staging`)" in w.bodies(pr)[0]
    arrived = _arrived(w, "1", "staging")

    # A maintainer who is not production's reviewer is refused, with the rule and who may approve.
    asked = w.pull("move it")
    refused = w.move("alice", asked, now=arrived + dt.timedelta(minutes=45), key="c1")
    assert refused.status == "refused" and w.alias("champion") is None
    [answer] = w.bodies(asked)
    assert "`production` requires a review by one of: @rita" in answer
    assert "@alice is not one of them" in answer

    # The reviewer, before the wait timer (counted from the staging Deployment) has run: refused, with when.
    early = w.move("rita", asked, now=arrived + dt.timedelta(minutes=10), key="c2")
    assert early.status == "refused"
    assert any("wait timer (30 min" in r for r in early.reasons)
    assert not any("review" in r for r in early.reasons)
    assert w.alias("champion") is None

    # The reviewer after the timer: the version moves on; staging keeps serving it too.
    moved = w.move("rita", asked, now=arrived + dt.timedelta(minutes=31), key="c3")
    assert (moved.status, moved.version, moved.environment) == ("promoted", "1", "production")
    assert (w.alias("staging"), w.alias("champion")) == ("1", "1")
    assert w.deployments() == [
        ("production", "1", ["success"]),
        ("staging", "1", ["in_progress", "success"]),
    ]
    version = w.store.version(MODEL, "1")
    assert version is not None
    # One bento, built once at the merge, now serving both environments.
    assert w.built == ["1"]
    assert version.tags[VersionTags.BENTO] == version.tags[f"{VersionTags.BENTO}.staging"] == "churn:v1"
    assert "`churn` v1 moved from `staging` to `production`" in w.bodies(asked)[-1]

    # The same command retried: no second Deployment, and its answer stays what it said.
    answers = w.bodies(asked)
    again = w.move("rita", asked, now=arrived + dt.timedelta(minutes=32), key="c3")
    assert again.status == "already"
    assert len(w.deployments()) == 2 and w.bodies(asked) == answers


def test_the_next_merge_replaces_staging_and_leaves_production(make_world: Any, model_file: Path) -> None:
    w = make_world()
    pr = w.pull("first")
    w.merge(model_file, "h1", 0.9, pr)
    assert w.move("alice", pr, now=dt.datetime.now(dt.UTC), key="c1").status == "promoted"
    w.merge(model_file, "h2", 0.91, w.pull("second"))
    assert (w.alias("staging"), w.alias("champion"), w.alias("previous")) == ("2", "1", None)
    moved = w.move("alice", pr, now=dt.datetime.now(dt.UTC), key="c2")
    assert (moved.status, moved.version, moved.previous) == ("promoted", "2", "1")
    assert (w.alias("champion"), w.alias("previous")) == ("2", "1")


def test_dry_run_shows_the_plan_and_changes_nothing(make_world: Any, model_file: Path) -> None:
    w = make_world()
    w.merge(model_file, "h1", 0.9, w.pull("merge"))
    asked = w.pull("plan")
    before = w.snapshot()
    planned = w.move("alice", asked, now=dt.datetime.now(dt.UTC), key="c9", dry_run=True)
    assert planned.status == "planned"
    assert w.snapshot() == before
    [answer] = w.bodies(asked)
    assert "(dry run: nothing was changed)" in answer
    assert "alias `champion`: v- → v1" in answer and "a Deployment to `production` of v1" in answer
    # The real run then does exactly that.
    assert w.move("alice", asked, now=dt.datetime.now(dt.UTC), key="c10").status == "promoted"
    assert w.alias("champion") == "1"


def test_a_merges_plan_names_staging_and_its_alias(make_world: Any, model_file: Path) -> None:
    w = make_world()
    pr = w.pull("plan")
    assert w.merge(model_file, "h1", 0.9, pr, dry_run=True).status == "planned"
    [plan] = w.bodies(pr)
    assert "| Alias `staging` | no version → the new version |" in plan
    assert "record a GitHub Deployment to `staging`" in plan and "`champion`" not in plan
    assert w.deployments() == [] and w.store.versions(MODEL) == []


def test_reconcile_compares_git_with_what_a_merge_promotes_to_staging(
    make_world: Any, model_file: Path
) -> None:
    w = make_world()
    w.standin.commit(REPO, "main", {"dvc.lock": LOCK("h1")}, "merge", author="alice")
    w.merge(model_file, "h1", 0.9, w.pull("merge"))
    spec = w.env().config.models[0]
    outcome = reconcile(w.env(), spec)
    assert (outcome.status, outcome.actual_version) == ("in-sync", "1")  # champion has none yet: not a drift
    assert not any("Reconcile" in i.title for i in w.standin.issues(REPO))


def test_to_the_first_or_an_unknown_environment_is_refused_with_the_environments(make_world: Any) -> None:
    w = make_world()
    asked = w.pull("x")
    for to in ("staging", "qa"):
        outcome = move_on(w.env(), model=MODEL, to=to, asked_by="alice", reply_to=asked, key=to)
        assert outcome.status == "refused"
    first, unknown = w.bodies(asked)
    assert "`staging` is the first environment: a merge promotes there" in first
    assert "`qa` is not one of this repository's environments" in unknown
    assert "`staging`, `production`" in unknown


def _check(model: str, at: dt.datetime, *, drift: bool) -> CheckRecord:
    return CheckRecord(
        model=model,
        check_id=at.isoformat(),
        checked_at=at.isoformat(),
        dataset_drift=drift,
        fired=("drift",) if drift else (),
    )


def test_soak_moves_on_after_its_time_with_green_checks_once(make_world: Any, model_file: Path) -> None:
    """The checks are the ones the scheduled drift checks record in the bot's store, read as the periodic
    reconcile reads them (`store_checks`)."""
    w = make_world(soak="24h")
    pr = w.pull("merge")
    w.merge(model_file, "h1", 0.9, pr)
    arrived = _arrived(w, "1", "staging")
    store = Store(w.database_url)

    def tick(hours: float) -> Any:
        return soak(
            w.env(),
            w.env().config.models[0],
            checks=store_checks(w.env()),
            now=lambda: arrived + dt.timedelta(hours=hours),
            lock=lambda name: store_lock(w.database_url, name),
        )

    try:
        early = tick(23)
        assert early.status == "soaking" and "soaking until" in early.reasons[0]
        assert "no monitoring check" in tick(25).reasons[0]
        store.record_check(
            REPO, _check(MODEL, arrived - dt.timedelta(hours=1), drift=True)
        )  # before: not counted
        store.record_check(REPO, _check(MODEL, arrived + dt.timedelta(hours=2), drift=True))
        assert "not green" in tick(25).reasons[0] and w.alias("champion") is None
        store.record_check(
            REPO, _check(MODEL, arrived + dt.timedelta(hours=2), drift=False)
        )  # the same check, redone
        planned = soak(
            w.env(),
            w.env().config.models[0],
            checks=store_checks(w.env()),
            now=lambda: arrived + dt.timedelta(hours=25),
            dry_run=True,
        )
        assert planned is not None and planned.status == "planned" and w.alias("champion") is None
        moved = tick(25)
    finally:
        store.close()
    assert (moved.status, moved.environment, w.alias("champion")) == ("promoted", "production", "1")
    deployments, answers = w.deployments(), w.bodies(pr)
    assert ("production", "1", ["success"]) in deployments
    assert "`churn` v1 moved from `staging` to `production`" in answers[-1]
    # The next tick finds it done: no second Deployment, no second comment.
    assert tick(26) is None
    assert w.deployments() == deployments and w.bodies(pr) == answers


def test_soak_never_moves_past_a_required_reviewer(make_world: Any, model_file: Path) -> None:
    w = make_world(soak="1d")
    w.protect_production(reviewer="rita")
    pr = w.pull("merge")
    w.merge(model_file, "h1", 0.9, pr)
    arrived = _arrived(w, "1", "staging")
    records = [_check(MODEL, arrived + dt.timedelta(hours=1), drift=False)]
    outcome = soak(
        w.env(),
        w.env().config.models[0],
        checks=lambda m: records,
        now=lambda: arrived + dt.timedelta(days=2),
    )
    assert outcome is not None and outcome.status == "refused"
    assert "the soak does not move past a reviewer" in outcome.reasons[0]
    assert w.alias("champion") is None


def test_the_cli_moves_on_as_the_job_step_does(
    make_world: Any, model_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`mlops-bot promote --to production --asked-by LOGIN`: the step the local executor runs for the comment."""
    import json

    from bot.cli import main

    w = make_world()
    w.protect_production(reviewer="rita")
    pr = w.pull("merge")
    w.merge(model_file, "h1", 0.9, pr)
    for name, value in {
        "MLOPS_BOT_GITHUB_TOKEN": w.token,
        "MLOPS_BOT_GITHUB_BASE_URL": w.standin.base_url,
        "MLOPS_BOT_GITHUB_THROTTLE": "false",
        "MLOPS_BOT_MLFLOW_TRACKING_URI": w.store.tracking_uri,
        "MLOPS_BOT_DATABASE_URL": w.database_url,
    }.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "move.json"
    base = ["promote", "--repo", REPO, "--model", MODEL, "--to", "production", "--reply-to", str(pr)]
    assert (
        main([*base, "--asked-by", "alice", "--key", "c1", "--json", str(out)]) == 0
    )  # an answer, not a failure
    assert json.loads(out.read_text())[0]["status"] == "refused" and w.alias("champion") is None
    assert main([*base, "--asked-by", "rita", "--key", "c2", "--json", str(out)]) == 0
    assert json.loads(out.read_text())[0]["status"] == "promoted" and w.alias("champion") == "1"
    assert main(["promote", "--repo", REPO, "--to", "production", "--sha", "abc"]) == 2  # one or the other
