"""`/promote --canary`, and the two ways a canary ends, on the GitHub stand-in (PyGithub) and a sqlite MLflow
registry: the state is alias `canary` and tags on the candidate, the Deployment is keyed, a retry leaves one of
each, a dry run changes nothing, `/rollback` drops the canary and leaves the champion. (The two-model bento
itself is served for real in tests/adapters/test_canary_bento.py; here the builder records what it is asked.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.canary import CANARY_ALIAS, CanaryTags
from bot.core.models import ModelVersion
from bot.jobs.canary import CanaryOutcome, end_canary, start_canary
from bot.jobs.rollback import rollback
from tests.jobs.test_effects import LOCK, MODEL, REPO, make_world, model_file  # noqa: F401 (fixtures)


class Builder:
    """Records each canary service asked for: (champion, candidate, share)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str, float]] = []
        self.fail = fail

    def __call__(
        self, champion: ModelVersion, candidate: ModelVersion, share: float, sha: str
    ) -> tuple[str, str]:
        self.calls.append((champion.version, candidate.version, share))
        if self.fail:
            raise RuntimeError("bentoml build failed (exit 1)")
        return f"churn:canary{candidate.version}", "not containerized: no Docker daemon"


def _canary(
    w: Any, builder: Builder, *, dry_run: bool = False, percent: float = 10.0, **kw: Any
) -> CanaryOutcome:
    folder = w.tmp / "checkout-h3"
    folder.mkdir(exist_ok=True)
    (folder / "dvc.lock").write_text(LOCK("h3"))
    sha = w.standin.repo(REPO).git.branch_sha("main")
    return start_canary(
        w.env(), folder, model=MODEL, percent=percent, sha=sha, dry_run=dry_run, build=builder, **kw
    )


@pytest.fixture
def world(make_world: Any, model_file: Path) -> Any:  # noqa: F811 (the fixtures imported above)
    """v1 previous, v2 champion, and a trained (unregistered) candidate h3; an issue to answer on."""
    w = make_world()
    w.two_versions(model_file)
    w.trained(model_file, "h3", 0.92)
    w.issue = w.standin.create_issue(REPO, title="canary", body="", author="alice").number
    return w


def test_a_dry_run_shows_the_plan_and_leaves_registry_and_github_unchanged(world: Any) -> None:
    before = world.snapshot()
    builder = Builder()
    outcome = _canary(world, builder, dry_run=True, reply_to=world.issue)
    assert (outcome.status, outcome.champion, outcome.percent) == ("planned", "2", 10.0)
    [answer] = [c.body or "" for c in world.standin.comments(REPO, world.issue)]
    assert "dry run" in answer and "register run" in answer and "10%" in answer and "champion v2" in answer
    after = world.snapshot()
    after["comments"] = [c for c in after["comments"] if c[0] != world.issue]
    assert after == before and builder.calls == []  # no version, alias, tag, Deployment or build


def test_a_canary_serves_the_candidate_beside_the_champion_and_a_retry_leaves_one(world: Any) -> None:
    builder = Builder()
    first = _canary(world, builder, reply_to=world.issue, key="c77")
    assert (first.status, first.version, first.champion) == ("started", "3", "2")
    canary = world.store.version_by_alias(MODEL, CANARY_ALIAS)
    assert canary.version == "3"
    assert world.store.version_by_alias(MODEL, "champion").version == "2"  # the champion stays
    assert canary.tags[CanaryTags.PERCENT] == "10" and canary.tags[CanaryTags.CHAMPION] == "2"
    assert canary.tags[CanaryTags.BENTO] == "churn:canary3"
    assert builder.calls == [("2", "3", 0.1)]
    deployment = max(world.standin.deployments(REPO), key=lambda d: d.id)
    assert deployment.id == first.deployment_id and deployment.environment == "production"
    assert deployment.payload["canary"] == {"version": "3", "percent": 10.0, "run_id": canary.run_id}
    assert deployment.payload["bento"] == "churn:canary3" and deployment.statuses[-1].state == "success"

    once = world.snapshot()
    again = _canary(world, builder, reply_to=world.issue, key="c77")  # the job retried
    assert again.status == "already" and builder.calls == [("2", "3", 0.1)]
    assert world.snapshot() == once  # the same answer, no second Deployment, build or tag
    assert len(world.standin.comments(REPO, world.issue)) == 1

    wider = _canary(world, builder, reply_to=world.issue, key="c78", percent=25)  # a new share: a new service
    assert wider.status == "started" and builder.calls[-1] == ("2", "3", 0.25)
    assert world.store.version(MODEL, "3").tags[CanaryTags.PERCENT] == "25"


def test_rollback_drops_the_canary_and_leaves_the_champion(world: Any) -> None:
    _canary(world, Builder(), reply_to=world.issue)
    deployments = len(world.standin.deployments(REPO))
    planned = rollback(world.env(), model=MODEL, to=None, reply_to=world.issue, key="c90", dry_run=True)
    assert planned.status == "planned" and world.store.version_by_alias(MODEL, CANARY_ALIAS).version == "3"

    dropped = rollback(world.env(), model=MODEL, to=None, reply_to=world.issue, key="c91")
    assert (dropped.status, dropped.version, dropped.previous) == ("canary-dropped", "2", "3")
    assert world.store.version_by_alias(MODEL, CANARY_ALIAS) is None
    assert world.store.version_by_alias(MODEL, "champion").version == "2"
    assert world.store.version(MODEL, "3").tags[CanaryTags.ENDED] == "dropped"
    alone = max(world.standin.deployments(REPO), key=lambda d: d.id)
    assert len(world.standin.deployments(REPO)) == deployments + 1
    assert alone.payload["version"] == "2" and alone.payload["canary_dropped"] == "3"
    assert alone.statuses[-1].state == "success"

    once = world.snapshot()
    retried = rollback(world.env(), model=MODEL, to=None, reply_to=world.issue, key="c91")
    assert retried.status == "canary-dropped" and world.snapshot() == once  # not a rollback of the champion

    again = _canary(world, Builder(), reply_to=world.issue, key="c93")  # the same canary, started again
    assert again.status == "started" and world.store.version_by_alias(MODEL, CANARY_ALIAS).version == "3"
    restarted = next(d for d in world.standin.deployments(REPO) if d.id == again.deployment_id)
    assert restarted.statuses[-1].state == "success"  # active again, though GitHub had made it inactive
    assert (
        rollback(world.env(), model=MODEL, to=None, reply_to=world.issue, key="c94").status
        == "canary-dropped"
    )

    back = rollback(world.env(), model=MODEL, to=None, reply_to=world.issue, key="c92")  # the next /rollback
    assert back.status == "rolled-back" and world.store.version_by_alias(MODEL, "champion").version == "1"


def test_a_promotion_ends_the_canary(world: Any) -> None:
    _canary(world, Builder(), reply_to=world.issue)
    ended = end_canary(world.env(), MODEL, how="promoted")
    assert ended is not None and ended.version == "3"
    assert world.store.version_by_alias(MODEL, CANARY_ALIAS) is None
    assert world.store.version(MODEL, "3").tags[CanaryTags.ENDED] == "promoted"
    assert end_canary(world.env(), MODEL, how="promoted") is None  # a retry: nothing runs any more


def test_promote_to_production_promotes_the_canary_and_ends_it(world: Any) -> None:
    """The move `/promote MODEL --to production` makes while a canary runs: from the canary (alias `canary`),
    with the candidate's own service, built when the canary started; then the canary ends."""
    from bot.jobs.promote_env import move_on

    own: list[str] = []

    def build_own(version: ModelVersion, sha: str) -> tuple[str, str]:
        own.append(version.version)
        return f"churn:alone{version.version}", ""

    _canary(world, Builder(), reply_to=world.issue, build_own=build_own)
    assert own == ["3"]
    moved = move_on(
        world.env(), model=MODEL, to="production", asked_by="alice", reply_to=world.issue, key="c95"
    )
    assert (moved.status, moved.version) == ("promoted", "3")
    assert world.store.version_by_alias(MODEL, "champion").version == "3"
    assert world.store.version_by_alias(MODEL, "previous").version == "2"
    assert world.store.version_by_alias(MODEL, CANARY_ALIAS) is None
    promoted = world.store.version(MODEL, "3")
    assert promoted.tags[CanaryTags.ENDED] == "promoted"
    assert promoted.tags["mlops_bot.bento_tag"] == "churn:alone3"  # production serves it alone now
    deployment = max(world.standin.deployments(REPO), key=lambda d: d.id)
    assert deployment.environment == "production" and deployment.payload["from"] == "production-canary"
    assert deployment.statuses[-1].state == "success"


def test_a_merge_that_promotes_ends_the_canary(world: Any, model_file: Path) -> None:  # noqa: F811
    _canary(world, Builder(), reply_to=world.issue)
    assert world.promote("h3").status == "promoted"  # the canary's own run merged
    assert world.store.version_by_alias(MODEL, CANARY_ALIAS) is None
    assert world.store.version(MODEL, "3").tags[CanaryTags.ENDED] == "promoted"

    world.trained(model_file, "h4", 0.93)
    world.issue = world.standin.create_issue(REPO, title="again", body="", author="alice").number
    folder = world.tmp / "checkout-h4"
    folder.mkdir()
    (folder / "dvc.lock").write_text(LOCK("h4"))
    sha = world.standin.repo(REPO).git.branch_sha("main")
    assert (
        start_canary(world.env(), folder, model=MODEL, percent=5, sha=sha, build=Builder()).status
        == "started"
    )
    world.trained(model_file, "h5", 0.94)
    assert world.promote("h5").status == "promoted"  # another version merged: the canary's service is stale
    assert world.store.version_by_alias(MODEL, CANARY_ALIAS) is None
    assert world.store.version(MODEL, "4").tags[CanaryTags.ENDED] == "replaced"


def test_a_failed_build_starts_nothing_and_says_why(world: Any) -> None:
    outcome = _canary(world, Builder(fail=True), reply_to=world.issue)
    assert outcome.status == "failed" and "bentoml build failed" in outcome.reasons[0]
    assert world.store.version_by_alias(MODEL, CANARY_ALIAS) is None
    [answer] = [c.body or "" for c in world.standin.comments(REPO, world.issue)]
    assert "No canary of **churn**" in answer


def test_the_champion_itself_is_no_canary(world: Any) -> None:
    outcome = start_canary(
        world.env(), world.tmp, model=MODEL, percent=10, sha="", version="2", build=Builder()
    )
    assert outcome.status == "refused" and "is the champion already" in outcome.reasons[0]


@pytest.mark.slow
def test_the_cli_builds_the_canary_and_the_candidates_own_bento(
    world: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`mlops-bot canary`, the step the local executor runs: real BentoML builds, in the job's BentoML process."""
    import json

    from bot.cli import main

    for name, value in {
        "MLOPS_BOT_GITHUB_TOKEN": world.token,
        "MLOPS_BOT_GITHUB_BASE_URL": world.standin.base_url,
        "MLOPS_BOT_GITHUB_THROTTLE": "false",
        "MLOPS_BOT_MLFLOW_TRACKING_URI": world.store.tracking_uri,
        "MLOPS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "MLOPS_BOT_WORK_DIR": str(tmp_path / "work"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / "dvc.lock").write_text(LOCK("h3"))
    sha = world.standin.repo(REPO).git.branch_sha("main")
    out = tmp_path / "canary.json"
    args = [
        "canary",
        "--repo",
        REPO,
        "--model",
        MODEL,
        "--percent",
        "10",
        "--sha",
        sha,
        "--repo-dir",
        str(folder),
    ]
    assert main([*args, "--reply-to", str(world.issue), "--key", "c5", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["status"] == "started"
    canary = world.store.version_by_alias(MODEL, CANARY_ALIAS)
    bentos = sorted(p.name for p in (tmp_path / "work" / "bentos").glob("*.bento"))
    assert bentos == [f"churn-2-canary-{canary.version}.bento", f"churn-{canary.version}.bento"], bentos
    assert canary.tags[CanaryTags.BENTO].startswith("churn:")
