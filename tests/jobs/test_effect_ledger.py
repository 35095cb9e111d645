"""The effect ledger (issue 11): every job run twice, and run again after a crash between two of its steps,
leaves the GitHub objects (comments, check runs, Deployments and their statuses, issues, pull requests, refs)
and the registry (versions, aliases, tags) exactly as one run leaves them.

Real parts: the GitHub stand-in driven by PyGithub, a sqlite MLflow registry. Objects are compared as
multisets of what a reader sees (no ids), so a duplicate made by a retry shows as a second entry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.github import GitHubRepo
from bot.adapters.mlflow import MlflowRegistry
from bot.core.config import CONFIG_PATH
from bot.core.models import ColumnDrift, DriftSummary, RunRecord, TrainResult
from bot.core.monitoring import CheckFacts
from bot.core.tags import RunTags
from bot.jobs.card import post_cards
from bot.jobs.common import JobEnv
from bot.jobs.drift_report import report
from bot.jobs.promote import promote
from bot.jobs.reconcile import reconcile
from bot.jobs.rollback import rollback
from bot.settings import Settings
from bot.standin import StandIn
from tests.support.mlflow_store import sqlite_registry
from tests.support.tiny_model import one_stage_lock, tiny_model

REPO = "acme/ledger"
MODEL = "churn"
ID_PATTERNS = (
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "<time>"),
    (r"[0-9a-f]{40}", "<sha>"),
    (r"[0-9a-f]{32}", "<run>"),
    (r"\b[0-9a-f]{12}\b", "<short sha>"),
    (r"\b\d{4,}\b", "<id>"),  # the stand-in's ids of Deployments, check runs, comments
)
ALIASES = ("champion", "previous", "canary")  # MLflow's version listing leaves aliases out: asked one by one
NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)

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
      consecutive: 1
      retrain:
        file: params.yaml
        set:
          data.snapshot: "{date}"
reconcile: correct
"""
PARAMS = "data:\n  snapshot: '2026-11' # bumped by retrain PRs\n"
LOCK = one_stage_lock


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("ledger-model"))


class World:
    def __init__(self, standin: StandIn, store: MlflowRegistry, tmp: Path, model_file: Path) -> None:
        self.standin, self.store, self.tmp, self.model_file = standin, store, tmp, model_file
        src = tmp / "src"
        (src / ".github").mkdir(parents=True)
        (src / CONFIG_PATH).write_text(CONFIG)
        (src / "params.yaml").write_text(PARAMS)
        (src / "dvc.lock").write_text(LOCK("h1"))
        standin.create_repo(REPO, source=src)
        standin.create_user("alice")
        self.token = standin.installation_token(standin.install_app(REPO))
        self.issue = standin.create_issue(REPO, title="asks", body="", author="alice").number
        standin.commit(
            REPO, "tune", {"params.yaml": PARAMS.replace("2026-11", "2026-10")}, "tune", author="alice"
        )
        self.pr_run: RunRecord | None = None
        self.pr = standin.open_pull(REPO, head="tune", base="main", title="Tune", author="alice")

    def env(self) -> JobEnv:
        settings = Settings(
            github_token=self.token,
            github_base_url=self.standin.base_url,
            github_throttle=False,
            mlflow_tracking_uri=self.store.tracking_uri,
            database_url=f"sqlite:///{self.tmp / 'bot.db'}",
        )
        return JobEnv(settings=settings, repo=REPO)

    def trained(self, output_hash: str, accuracy: float) -> RunRecord:
        return self.store.log_training_run(
            experiment="ledger",
            model=MODEL,
            run_name=output_hash,
            params={},
            metrics={"accuracy": accuracy},
            tags={RunTags.OUTPUT_HASH: output_hash, RunTags.REPO: REPO},
            artifacts={},
            model_file=self.model_file,
        )

    def promote(self, output_hash: str) -> str:
        folder = self.tmp / f"checkout-{output_hash}"
        folder.mkdir(exist_ok=True)
        (folder / "dvc.lock").write_text(LOCK(output_hash))
        sha = self.standin.repo(REPO).git.branch_sha("main")
        [outcome] = promote(
            self.env(), folder, sha=sha, models=[MODEL], pr=None, reply_to=self.issue, dry_run=False
        )
        return str(outcome.status)

    def readable(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """The snapshot with what differs between two worlds doing the same named by what it is (commit shas,
        MLflow run ids, the stand-in's object ids and port, the folders), for comparing worlds."""

        def plain(value: Any) -> Any:
            if isinstance(value, tuple | list):
                return tuple(plain(v) for v in value)
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            text = str(value).replace(self.standin.base_url, "<github>").replace(str(self.tmp), "<tmp>")
            for pattern, name in ID_PATTERNS:
                text = re.sub(pattern, name, text)
            return text

        return {k: sorted(plain(v)) if isinstance(v, list) else plain(v) for k, v in snapshot.items()}

    def snapshot(self) -> dict[str, Any]:
        """What a reader of the repository and the registry sees, ids left out."""
        s = self.standin
        issues = s.issues(REPO)
        git = s.repo(REPO).git
        return {
            "comments": sorted(
                (n, c.body or "")
                for n in {i.number for i in issues} | {p.number for p in s.pulls(REPO)}
                for c in s.comments(REPO, n)
            ),
            "issues": sorted((i.number, i.state, i.title, i.body or "") for i in issues),
            "check runs": sorted(
                (r.head_sha, r.name, r.status, r.conclusion or "", repr(sorted(r.output.items())))
                for r in s.check_runs(REPO)
            ),
            "deployments": sorted(
                (d.environment, repr(d.payload), tuple(st.state for st in d.statuses))
                for d in s.deployments(REPO)
            ),
            "pulls": sorted((p.number, p.head_ref, p.base_ref, p.head_sha) for p in s.pulls(REPO)),
            "refs": sorted(git.refs().items()),
            "aliases": {a: getattr(self.store.version_by_alias(MODEL, a), "version", None) for a in ALIASES},
            "versions": sorted(
                (v.version, tuple(v.aliases), tuple(sorted(v.tags.items())))
                for v in self.store.versions(MODEL)
            ),
        }


@pytest.fixture
def make_world(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, model_file: Path
) -> Iterator[Callable[[], World]]:
    """Worlds side by side: one crashed and retried, one run once, compared."""
    with contextlib.ExitStack() as stack:
        made: list[StandIn] = []

        def world() -> World:
            home = tmp_path / f"world{len(made)}"
            store = sqlite_registry(home / "mlflow", base=tmp_path_factory.getbasetemp())
            made.append(stack.enter_context(StandIn(home / "github")))
            return World(made[-1], store, home, model_file)

        yield world
        for standin in made:
            standin.check()


@pytest.fixture
def world(make_world: Callable[[], World]) -> World:
    return make_world()


def _drifted() -> CheckFacts:
    columns = (ColumnDrift("x", 0.9, "psi", 0.1, True), ColumnDrift("y", 0.0, "psi", 0.1, False))
    summary = DriftSummary(MODEL, True, 0.5, 0.5, columns, 1000, 500, 1000, 500)
    return CheckFacts(model=MODEL, check_id="check-1", checked_at=NOW.isoformat(), drift=summary)


def _trained_pr(w: World) -> None:
    w.pr_run = w.trained("h2", 0.91)


def _card(w: World) -> None:
    result = TrainResult(model=MODEL, run=w.pr_run, reused=False, ok=True, metrics={"accuracy": 0.91})
    post_cards(w.env(), [result], w.env().gh.pull(w.pr))


def _drift(w: World) -> None:
    env = w.env()
    spec = env.config.model(MODEL)
    sha = w.standin.repo(REPO).git.branch_sha("main")
    assert spec is not None and sha is not None
    report(env, spec, _drifted(), head_sha=sha, now=NOW)


def _promote(w: World) -> None:
    assert w.promote("h1") in {"promoted", "already"}


def _rollback(w: World) -> None:
    assert rollback(w.env(), model=MODEL, to="1", reply_to=w.issue, key="c7").status == "rolled-back"


def _reconcile(w: World) -> None:
    spec = w.env().config.model(MODEL)
    assert spec is not None
    reconcile(w.env(), spec)


def _two_versions(w: World) -> None:
    w.trained("h1", 0.9)
    assert w.promote("h1") == "promoted"
    w.trained("h2", 0.91)
    assert w.promote("h2") == "promoted"  # git pins h1 (v1); the champion is v2


def _one_trained(w: World) -> None:
    w.trained("h1", 0.9)


def _nothing(w: World) -> None:
    pass


def _canary(w: World) -> None:
    from bot.jobs.canary import start_canary

    folder = w.tmp / "checkout-h3"
    folder.mkdir(exist_ok=True)
    (folder / "dvc.lock").write_text(LOCK("h3"))
    sha = w.standin.repo(REPO).git.branch_sha("main")
    assert sha is not None
    outcome = start_canary(
        w.env(), folder, model=MODEL, percent=10, sha=sha, reply_to=w.issue, key="c8",
        build=lambda champion, candidate, share, commit: (f"churn:canary{candidate.version}", ""),
    )  # fmt: skip
    assert outcome.status in ("started", "already"), outcome


def _candidate(w: World) -> None:
    _two_versions(w)
    w.trained("h3", 0.92)


def _a_canary_runs(w: World) -> None:
    _candidate(w)
    _canary(w)


def _drop_canary(w: World) -> None:
    assert rollback(w.env(), model=MODEL, to=None, reply_to=w.issue, key="c9").status == "canary-dropped"


# (job, what the world needs first, a step to crash: (class, method) whose first call raises)
JOBS: dict[str, tuple[Callable[[World], None], Callable[[World], None], tuple[type, str]]] = {
    "card": (_card, _trained_pr, (GitHubRepo, "upsert_check_run")),
    "drift-report": (_drift, _nothing, (GitHubRepo, "upsert_pull")),
    "promote": (_promote, _one_trained, (MlflowRegistry, "set_alias")),
    "rollback": (_rollback, _two_versions, (GitHubRepo, "set_deployment_status")),
    "reconcile": (_reconcile, _two_versions, (MlflowRegistry, "set_alias")),
    "canary": (_canary, _candidate, (GitHubRepo, "set_deployment_status")),
    "canary-drop": (_drop_canary, _a_canary_runs, (MlflowRegistry, "delete_alias")),
}


# A correction's issue is closed by the next reconcile, which finds the model in sync: a new fact, not a repeat.
NEXT_RUN_CHANGES = {"reconcile"}


@pytest.mark.slow
@pytest.mark.parametrize("job", sorted(JOBS))
def test_a_job_run_twice_leaves_what_one_run_leaves(world: World, job: str) -> None:
    run, prepare, _ = JOBS[job]
    prepare(world)
    run(world)
    if job in NEXT_RUN_CHANGES:
        corrected = world.snapshot()
        run(world)
        assert [i[:3] for i in world.snapshot()["issues"]] == [
            (n, "closed" if n != world.issue else s, t) for n, s, t, _ in corrected["issues"]
        ]
    once = world.snapshot()
    run(world)
    assert world.snapshot() == once


@pytest.mark.slow
@pytest.mark.parametrize("job", sorted(JOBS))
def test_a_job_retried_after_a_crash_between_its_steps_leaves_what_one_run_leaves(
    make_world: Callable[[], World], job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world()
    run, prepare, (owner, method) = JOBS[job]
    prepare(world)
    before = world.snapshot()
    real = getattr(owner, method)
    calls: list[str] = []

    def crash(*args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        raise RuntimeError(f"the job died at {method}")

    with monkeypatch.context() as m:
        m.setattr(owner, method, crash)
        with pytest.raises(RuntimeError, match=f"the job died at {method}"):
            run(world)
    assert calls, f"{job} never reached {method}: the crash is not between its steps"
    assert getattr(owner, method) is real
    assert world.snapshot() != before, f"{job} had done nothing before {method}: not between steps"
    run(world)  # the retry
    retried = world.snapshot()
    if job not in NEXT_RUN_CHANGES:
        run(world)
        assert world.snapshot() == retried
    _assert_one_of_each(retried, job)
    clean = make_world()
    prepare(clean)
    run(clean)
    assert world.readable(retried) == clean.readable(clean.snapshot()), f"{job}: the retry left another world"


def _assert_one_of_each(state: dict[str, Any], job: str) -> None:
    """No object a single run makes once appears twice after the crash and the retry."""
    bodies = [body for _, body in state["comments"]]
    markers = [line for body in bodies for line in body.splitlines() if line.startswith("<!-- mlops-bot:")]
    assert len(markers) == len(set(markers)), f"{job}: a marker appears on two comments after the retry"
    titles = [title for _, _, title, _ in state["issues"]]
    assert len(titles) == len(set(titles)), f"{job}: two issues of one title"
    names = [(sha, name) for sha, name, *_ in state["check runs"]]
    assert len(names) == len(set(names)), f"{job}: two check runs of one name on one commit"
    heads = [head for _, head, _, _ in state["pulls"]]
    assert len(heads) == len(set(heads)), f"{job}: two pull requests from one branch"
    keys = [payload for _, payload, _ in state["deployments"]]
    assert len(keys) == len(set(keys)), f"{job}: two Deployments of one key"
