"""Promotion, rollback and reconcile against a real `mlflow server` on loopback and the GitHub stand-in.

Runs are logged directly (a small scikit-learn model each) with the output hash the promoted commit's
`dvc.lock` pins, which is how the bot finds the candidate whatever the merge method.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.core.config import CONFIG_PATH
from bot.jobs.common import JobEnv
from bot.jobs.promote import promote, store_lock
from bot.jobs.reconcile import reconcile
from bot.jobs.rollback import rollback
from bot.settings import Settings
from bot.standin import StandIn
from tests.support.mlflow_server import MlflowServer
from tests.support.tiny_model import one_stage_lock

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CONFIG = """\
models:
  - name: {model}
    stage: train
    output: model.pkl
    metrics:
      - name: accuracy
        tolerance: 0.02
reconcile: {reconcile}
"""

LOCK = one_stage_lock


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    with StandIn(tmp_path_factory.mktemp("github")) as gh:
        yield gh
        gh.check()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True, as_frame=True)
    path = tmp_path_factory.mktemp("model") / "model.pkl"
    joblib.dump(LogisticRegression(max_iter=300).fit(x, y), path)
    return path


class World:
    """One repository on the stand-in, one model in the registry, and the env a job command would get."""

    def __init__(
        self, standin: StandIn, server: MlflowServer, tmp: Path, model: str, *, reconcile: str
    ) -> None:
        self.standin, self.model, self.tmp = standin, model, tmp
        self.repo = f"acme/{model}"
        src = tmp / "src"
        (src / ".github").mkdir(parents=True)
        (src / CONFIG_PATH).write_text(CONFIG.format(model=model, reconcile=reconcile))
        standin.create_repo(self.repo, source=src)
        standin.create_user("alice")
        token = standin.installation_token(standin.install_app(self.repo))
        self.settings = Settings(
            github_token=token,
            github_base_url=standin.base_url,
            github_throttle=False,
            mlflow_tracking_uri=server.url,
            database_url=f"sqlite:///{tmp / 'bot.db'}",
        )
        self.registry = MlflowRegistry(server.url)

    def env(self) -> JobEnv:
        return JobEnv(settings=self.settings, repo=self.repo)

    def run(self, model_file: Path, accuracy: float, output_hash: str) -> str:
        record = self.registry.log_training_run(
            experiment="promote-tests",
            model=self.model,
            run_name=output_hash,
            params={},
            metrics={"accuracy": accuracy},
            tags={"mlops_bot.output_hash": output_hash, "mlops_bot.repo": self.repo},
            artifacts={},
            model_file=model_file,
        )
        return record.run_id

    def checkout(self, output_hash: str) -> Path:
        repo_dir = self.tmp / f"checkout-{output_hash}"
        repo_dir.mkdir(exist_ok=True)
        (repo_dir / "dvc.lock").write_text(LOCK(output_hash))
        return repo_dir

    def promote(self, output_hash: str, **kwargs: object) -> list:  # type: ignore[type-arg]
        sha = self.standin.repo(self.repo).git.branch_sha("main")
        assert sha is not None
        return promote(
            self.env(),
            self.checkout(output_hash),
            sha=sha,
            models=[self.model],
            pr=None,
            reply_to=kwargs.pop("reply_to", None),
            dry_run=False,  # type: ignore[arg-type]
            lock=lambda name: store_lock(self.settings.database_url, name),
        )

    def champion(self) -> str | None:
        v = self.registry.version_by_alias(self.model, "champion")
        return v.version if v else None


@pytest.fixture
def world_factory(standin: StandIn, mlflow_server: MlflowServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(model: str, reconcile: str = "report") -> World:
        return World(standin, mlflow_server, tmp_path / model, model, reconcile=reconcile)

    return make


def test_merge_promotes_and_a_redelivered_merge_changes_nothing(world_factory, model_file: Path) -> None:  # type: ignore[no-untyped-def]
    w = world_factory("first")
    w.run(model_file, 0.95, "h1")
    [outcome] = w.promote("h1")
    assert (outcome.status, outcome.version, outcome.deployment_state) == ("promoted", "1", "success")
    assert w.champion() == "1"
    [again] = w.promote("h1")
    assert again.status == "already" and again.version == "1"
    assert len(w.registry.versions(w.model)) == 1
    deployments = w.standin.deployments(w.repo)
    assert len(deployments) == 1 and deployments[0].payload["version"] == "1"
    assert [s.state for s in deployments[0].statuses] == ["in_progress", "success"]


def test_gate_refusal_leaves_the_champion_and_explains(world_factory, model_file: Path) -> None:  # type: ignore[no-untyped-def]
    w = world_factory("gated")
    w.run(model_file, 0.95, "good")
    w.promote("good")
    w.run(model_file, 0.80, "worse")
    issue = w.standin.create_issue(w.repo, title="merge", body="", author="alice")
    [outcome] = w.promote("worse", reply_to=issue.number)
    assert outcome.status == "refused" and w.champion() == "1"
    reason = "accuracy 0.800 vs champion 0.950: dropped 0.150, more than the allowed 0.020"
    assert reason in outcome.reasons
    [reply] = [c.body or "" for c in w.standin.comments(w.repo, issue.number)]
    assert reason in " ".join(reply.replace("`", "").split())


def test_missing_candidate_is_refused_with_how_to_fix(world_factory) -> None:  # type: ignore[no-untyped-def]
    w = world_factory("untrained")
    [outcome] = w.promote("never-trained")
    assert outcome.status == "no-candidate" and w.champion() is None
    reason = " ".join(outcome.reasons[0].split())
    assert "no MLflow run carries the model output hash `never-trained` that its `dvc.lock` pins" in reason
    assert (
        "Train it on the pull request (`/train`)" in reason
        and "`promotion.missing_candidate: train`" in reason
    )


def test_ten_concurrent_promotions_end_consistent(world_factory, model_file: Path) -> None:  # type: ignore[no-untyped-def]
    w = world_factory("raced")
    hashes = [f"race{i}" for i in range(10)]
    for i, h in enumerate(hashes):
        w.run(model_file, 0.90 + i * 0.002, h)
    outcomes: dict[str, object] = {}
    threads = [threading.Thread(target=lambda h=h: outcomes.__setitem__(h, w.promote(h)[0])) for h in hashes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    promoted = [o for o in outcomes.values() if o.status == "promoted"]  # type: ignore[attr-defined]
    assert len(outcomes) == 10 and promoted
    versions = w.registry.versions(w.model)
    assert len(versions) == len(promoted), "only promotions that passed their gate register a version"
    champion = w.registry.version_by_alias(w.model, "champion")
    assert champion is not None
    # The champion is the last promotion to take the lock: every other promoted version is older.
    assert int(champion.version) == max(int(o.version) for o in promoted)  # type: ignore[attr-defined]
    # `previous` is the champion the last promotion replaced: the second newest promoted version.
    previous = w.registry.version_by_alias(w.model, "previous")
    ranked = sorted(int(o.version) for o in promoted)  # type: ignore[attr-defined]
    assert (previous.version if previous else None) == (str(ranked[-2]) if len(ranked) > 1 else None)
    for o in outcomes.values():
        assert o.status in {"promoted", "refused"}, o  # type: ignore[attr-defined]


def test_rollback_to_previous_then_to_a_version(world_factory, model_file: Path) -> None:  # type: ignore[no-untyped-def]
    w = world_factory("rolled")
    w.run(model_file, 0.93, "a")
    w.promote("a")
    w.run(model_file, 0.95, "b")
    w.promote("b")
    assert w.champion() == "2"
    back = rollback(w.env(), model=w.model, to=None, reply_to=None)
    assert (back.status, back.version, back.previous) == ("rolled-back", "1", "2")
    assert w.champion() == "1"
    forward = rollback(w.env(), model=w.model, to="2", reply_to=None)
    assert forward.status == "rolled-back" and w.champion() == "2"
    same = rollback(w.env(), model=w.model, to="2", reply_to=None)
    assert same.status == "refused" and same.reasons


def test_nothing_to_roll_back_to(world_factory, model_file: Path) -> None:  # type: ignore[no-untyped-def]
    w = world_factory("single")
    w.run(model_file, 0.93, "only")
    w.promote("only")
    outcome = rollback(w.env(), model=w.model, to=None, reply_to=None)
    assert outcome.status == "refused" and w.champion() == "1"


@pytest.mark.parametrize("mode", ["report", "correct"])
def test_reconcile_detects_a_hand_moved_alias(world_factory, model_file: Path, mode: str) -> None:  # type: ignore[no-untyped-def]
    w = world_factory(f"reconciled-{mode}", reconcile=mode)
    w.run(model_file, 0.93, "v1hash")
    w.promote("v1hash")
    w.run(model_file, 0.95, "v2hash")
    w.promote("v2hash")
    w.standin.commit(w.repo, "main", {"dvc.lock": LOCK("v2hash")}, "pin v2", author="alice")
    spec = w.env().config.model(w.model)
    assert spec is not None
    assert reconcile(w.env(), spec).status == "in-sync"

    w.registry.set_alias(w.model, "champion", "1")  # someone moves it by hand in MLflow
    outcome = reconcile(w.env(), spec)
    assert outcome.actual_version == "1" and outcome.desired_version == "2"
    [issue] = [i for i in w.standin.issues(w.repo) if "Reconcile" in i.title]
    if mode == "correct":
        assert outcome.status == "corrected" and w.champion() == "2"
    else:
        assert outcome.status == "drifted-reported" and w.champion() == "1"
        body = " ".join((issue.body or "").split())
        assert (
            "pins model output `v2hash`, registered as version 2; the alias `champion` points at version 1"
            in body
        )
        assert f"`/rollback {w.model} --to 2`" in body
    # Running it again leaves one issue.
    reconcile(w.env(), spec)
    assert len([i for i in w.standin.issues(w.repo) if "Reconcile" in i.title]) == 1


def test_metrics_show_the_new_champion_at_once_after_a_promotion_and_a_rollback(  # type: ignore[no-untyped-def]
    world_factory, model_file: Path
) -> None:
    """The champion gauges come from what the promotion and the rollback recorded in the store, not from
    the newest scheduled check (which here still names the old champion, promoted long ago)."""
    from prometheus_client.parser import text_string_to_metric_families

    from bot.adapters.store import Store
    from bot.core.monitoring.history import CheckRecord
    from bot.metrics import Metrics
    from bot.metrics_health import HealthCollector

    w = world_factory("gauged")
    w.run(model_file, 0.95, "g1")
    w.promote("g1")
    store = Store(w.settings.database_url)
    check = CheckRecord(
        model=w.model, check_id="old", checked_at="2020-01-01T00:00:00Z", champion_version="1",
        promoted_at="2020-01-01T00:00:00Z",
    )  # fmt: skip
    store.record_check(w.repo, check)
    metrics = Metrics()
    metrics.watch_health(HealthCollector(store, ttl=0))
    labels = (("model", w.model), ("repository", w.repo))

    def gauges() -> tuple[float, float]:
        found = {
            s.name: s.value
            for family in text_string_to_metric_families(metrics.render().decode())
            for s in family.samples
            if tuple(sorted(s.labels.items())) == labels
        }
        return found["mlops_bot_model_champion_version"], found["mlops_bot_model_seconds_since_promotion"]

    w.run(model_file, 0.96, "g2")
    [promoted] = w.promote("g2")
    assert promoted.status == "promoted" and promoted.version == "2"
    version, since = gauges()
    assert version == 2 and since < 120  # not v1, promoted in 2020, as the check says
    back = rollback(w.env(), model=w.model, to=None, reply_to=None)
    assert back.status == "rolled-back" and back.version == "1"
    version, since = gauges()
    assert version == 1 and since < 120
    store.close()
