"""Issue 16, "Tests that must exist": a DVC project nobody here wrote goes through the whole loop unchanged.

The only file added to the project is `.github/mlops-bot.yml`, written by the real `mlops-bot init` (run as a
subprocess in the project) and checked by `mlops-bot config check`. The project is then seeded on the GitHub
stand-in and the REAL bot (FastAPI app, durable queue, worker, local executor, sqlite MLflow) trains a pull
request that changes a parameter, posts the card and the check run, promotes on merge (registry version,
`champion` alias, bento, Deployment), and the bento answers a prediction on a row of the project's own data.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import load_config
from bot.core.markers import card_marker
from tests.reliability.harness import ADMIN, BOT, app_keys, bot_in_process, free_port, make_world
from tests.support.dvc_projects import (
    ONLYHERE_WHEEL,
    FixtureProject,
    artifacts_project,
    dvclive_project,
    evaluate_stage_project,
    git,
    pipeline_project,
    venv_project,
)

pytestmark = pytest.mark.slow

TRAIN_TIMEOUT = 240.0
SNAPSHOTS = Path(__file__).parent / "snapshots"


@dataclass(frozen=True)
class Shape:
    """One fixture project and what a newcomer and the card should see of it."""

    name: str  # the project's folder: init names a model of stage outputs after it
    build: Callable[..., FixtureProject]
    committed_after_repro: tuple[str, ...]  # what `dvc repro` leaves for git (cache: false outs, .gitignore)
    init_says: tuple[str, ...]  # how init reports the gated metrics it found
    models: dict[str, tuple[str, ...]]  # model init proposes -> its gated metric names, in init's order
    param: tuple[str, str, str]  # (params.yaml line, changed line, the card's params-diff row)
    pipeline: tuple[str, ...]  # the project's own files, which nothing may change
    features: tuple[str, ...] = ("a", "b", "c")  # the columns a prediction is sent
    remote: str = ""  # after init, the team points the default DVC remote here (the bot host cannot use it)
    card_says: tuple[str, ...] = ()  # what the card must say besides the metrics (e.g. a push warning)
    id: str = ""  # the test id; default: the builder's name
    newcomer_path: str = ""  # on PYTHONPATH for the newcomer's own `dvc repro` (their environment has it)

    @property
    def test_id(self) -> str:
        return self.id or self.build.__name__

    @property
    def gated(self) -> int:
        return sum(len(m) for m in self.models.values())


EVALUATE_STAGE = Shape(
    name="churn-gb",
    build=evaluate_stage_project,
    committed_after_repro=("dvc.lock", ".gitignore", "reports"),
    init_says=("gates on accuracy, roc_auc from reports/scores.json",),
    models={"churn-gb": ("accuracy", "roc_auc")},
    param=("n_estimators: 20", "n_estimators: 40", "| `train.n_estimators` | 20 | 40 |"),
    pipeline=("dvc.yaml", "params.yaml", "src/train.py", "src/evaluate.py"),
)

SHAPES = [
    EVALUATE_STAGE,
    Shape(
        name="churn-rf",
        build=dvclive_project,
        committed_after_repro=("dvc.lock", ".gitignore"),
        init_says=("gates on avg_prec.test, roc_auc.test from eval/metrics.json",),
        models={"churn-rf": ("avg_prec.test", "roc_auc.test")},
        param=("n_estimators: 10", "n_estimators: 30", "| `train.n_estimators` | 10 | 30 |"),
        pipeline=("dvc.yaml", "params.yaml", "src/train.py", "src/evaluate.py"),
    ),
    Shape(
        name="churn-pipeline",
        build=pipeline_project,
        committed_after_repro=("dvc.lock", ".gitignore", "metrics.json", "confusion.csv"),
        init_says=("gates on accuracy, f1 from metrics.json",),
        models={"churn-pipeline": ("accuracy", "f1")},
        param=("C: 1.0", "C: 0.3", "| `train.C` | 1.0 | 0.3 |"),
        pipeline=("dvc.yaml", "params.yaml", "src/train.py"),
        features=("a", "b", "c", "colour"),
    ),
    Shape(
        name="two-models",
        build=artifacts_project,
        committed_after_repro=("dvc.lock", "models/.gitignore", "metrics"),
        init_says=("churn: gates on accuracy", "upsell: gates on accuracy"),
        models={"churn": ("accuracy",), "upsell": ("accuracy",)},
        param=("C: 1.0", "C: 0.2", "| `churn.C` | 1.0 | 0.2 |"),
        pipeline=("dvc.yaml", "params.yaml", "src/train.py"),
    ),
    Shape(
        name="churn-venv",
        build=venv_project,
        committed_after_repro=("dvc.lock", ".gitignore", "metrics.json"),
        init_says=(
            "gates on accuracy from metrics.json",
            "the stages run in a virtual environment built from requirements.txt",
        ),
        models={"churn-venv": ("accuracy",)},
        param=("n_estimators: 10", "n_estimators: 25", "| `train.n_estimators` | 10 | 25 |"),
        pipeline=("dvc.yaml", "params.yaml", "src/train.py", "requirements.txt"),
        newcomer_path=ONLYHERE_WHEEL,
    ),
    # a remote the bot host cannot write (here: a path below a file): the push is a warning, not a failure
    replace(
        EVALUATE_STAGE,
        remote="{blocker}/dvc-store",
        card_says=("⚠️", "dvc push to the DVC remote 'team'"),
        id="unreachable_remote",
    ),
    # a remote of a DVC plugin the bot host does not have installed
    replace(
        EVALUATE_STAGE,
        remote="gdrive://0AIac4JZqHhKmUk9PDA/dvcstore",
        card_says=("⚠️", "`pip install dvc-gdrive`"),
        id="remote_plugin_not_installed",
    ),
]


def point_the_remote_elsewhere(project: FixtureProject, url: str, tmp_path: Path) -> None:
    """The team's own remote, which the bot host cannot use; committed as a team would."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    dvc = [
        sys.executable,
        "-m",
        "dvc",
        "remote",
        "add",
        "-q",
        "-d",
        "-f",
        "team",
        url.format(blocker=blocker),
    ]
    subprocess.run(dvc, cwd=project.root, check=True)
    git(project.root, "add", ".dvc/config")
    git(project.root, "commit", "-q", "-m", "Our team's DVC remote")


def normalised(card: str) -> str:
    """The card with what differs between runs (run ids, commit shas, hashes, seconds) replaced."""
    card = re.sub(r"\b[0-9a-f]{12,40}\b", "<hex>", card)
    return re.sub(r"trained in \d+ s", "trained in <n> s", card)


def mlops_bot(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, as a user types it in the project's folder."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=root, capture_output=True, text=True, timeout=120
    )


def init_as_a_newcomer(project: FixtureProject, shape: Shape) -> list[str]:
    """What a newcomer does, step by step as `init` tells them. Returns the model names init chose.

    The fixture's hand-written config is dropped first. On a project that never ran, `init` cannot read the
    metrics file and says "run `dvc repro`, commit dvc.lock and run init again": the test does exactly that
    (the user's own `dvc repro`, in their environment: stages need scikit-learn), so the config gates on
    the metrics the evaluate stage writes. Nothing of the pipeline (dvc.yaml, params, code) changes."""
    git(project.root, "rm", "-q", ".github/mlops-bot.yml")
    git(project.root, "commit", "-q", "-m", "Start without a bot config")
    pipeline = shape.pipeline
    pipeline_before = {p: (project.root / p).read_text() for p in pipeline}

    first = mlops_bot(project.root, "init")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "run `dvc repro`, commit dvc.lock and run init again" in first.stdout, first.stdout
    checked = mlops_bot(project.root, "config", "check")
    assert checked.returncode == 0 and "0 gated metric(s)" in checked.stdout, checked.stdout + checked.stderr

    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    if shape.newcomer_path:
        env["PYTHONPATH"] = str(project.root / shape.newcomer_path)
    repro = subprocess.run([str(Path(sys.executable).parent / "dvc"), "repro", "-q"], cwd=project.root, env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert repro.returncode == 0, repro.stdout + repro.stderr
    pushed = subprocess.run([str(Path(sys.executable).parent / "dvc"), "push", "-q"], cwd=project.root, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr  # main's outputs in the remote, as users do
    git(project.root, "add", *shape.committed_after_repro)
    git(project.root, "commit", "-q", "-m", "dvc repro")

    again = mlops_bot(project.root, "init", "--force")
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(said in again.stdout for said in shape.init_says), again.stdout
    checked = mlops_bot(project.root, "config", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{shape.gated} gated metric(s)" in checked.stdout and "matches dvc.yaml" in checked.stdout, (
        checked.stdout
    )

    changed = git(project.root, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert all(line[3:].startswith(".github/") for line in changed), changed  # init wrote only .github/
    assert {p: (project.root / p).read_text() for p in pipeline} == pipeline_before
    git(project.root, "add", ".github")
    git(project.root, "commit", "-q", "-m", "Add mlops-bot (mlops-bot init)")
    models = load_config((project.root / ".github" / "mlops-bot.yml").read_text()).models
    assert {m.name: tuple(g.name for g in m.metrics) for m in models} == shape.models
    assert all(g.min is not None or g.max is not None for m in models for g in m.metrics)  # a first verdict
    return [m.name for m in models]


def wait_or_fail(store: Any, what: str, probe: Callable[[], Any], timeout: float) -> Any:
    """`probe()` once it is truthy; a job of the bot that failed ends the wait with its error."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        failed = [r for r in store.list(limit=1000) if r.status == "failed"]
        if failed:
            raise AssertionError(f"waiting for {what}: job {failed[0].id} failed: {failed[0].last_error}")
        if time.monotonic() > deadline:
            jobs = [(r.id, r.status, r.last_error) for r in store.list(limit=1000)]
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; the bot's jobs: {jobs}")
        time.sleep(0.25)


def first_test_record(project: FixtureProject, shape: Shape) -> dict[str, Any]:
    """The first row of the project's own test data, as the served model is sent it (by column name)."""
    with (project.root / "data" / "test.csv").open() as f:
        row = next(csv.DictReader(f))
    return {c: row[c] if c == "colour" else float(row[c]) for c in shape.features}


@pytest.mark.parametrize("shape", SHAPES, ids=[s.test_id for s in SHAPES])
def test_an_unchanged_project_trains_cards_merges_promotes_and_serves(
    shape: Shape, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.adapters.mlflow import MlflowRegistry

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))  # the bento store of this test only
    project = shape.build(tmp_path / shape.name, remote=tmp_path / "dvc-remote")
    models = init_as_a_newcomer(project, shape)
    assert models == list(shape.models)  # init names a stage output's model after the repository's folder
    if shape.remote:
        point_the_remote_elsewhere(project, shape.remote, tmp_path)
    repo = f"acme/{shape.name}"

    private_key, public_key = app_keys()
    world = make_world(tmp_path / "world", database_url=f"sqlite:///{tmp_path / 'bot.db'}",
                       private_key=private_key, public_key=public_key, executor="local")  # fmt: skip
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    world.settings = world.settings.model_copy(update={"mlflow_tracking_uri": tracking_uri})
    standin = world.standin
    try:
        standin.create_repo(repo, source=project.root)
        standin.set_permission(repo, ADMIN, "admin")
        standin.install_app(repo)
        params = (project.root / "params.yaml").read_text()
        old, new, _ = shape.param
        assert old in params
        standin.commit(repo, "change-params", {"params.yaml": params.replace(old, new)}, "Change a parameter",
                       author=ADMIN, base="main")  # fmt: skip

        with bot_in_process(world) as store:
            pr = standin.open_pull(repo, head="change-params", title="Change a parameter", author=ADMIN)
            opened_head = standin.pull(repo, pr).head_sha
            for model in models:
                check_card(standin, store, repo, pr, model, shape, tmp_path)
            trained_once(standin, store, repo, pr, opened_head)

            standin.merge_pull(repo, pr, by=ADMIN, method="squash")

            def deployed() -> Any:
                done = {}
                for d in standin.deployments(repo):
                    states = [s.state for s in d.statuses]
                    if "failure" in states or "error" in states:
                        raise AssertionError(f"deployment {d.id} failed: {d.statuses[-1].description}")
                    if "success" in states:
                        done[d.id] = d
                return list(done.values()) if len(done) == len(models) else None

            deployments = wait_or_fail(store, "a production Deployment per model", deployed, TRAIN_TIMEOUT)
            assert {d.environment for d in deployments} == {"production"}

        import httpx

        from bot.adapters.bentoml import serve

        registry = MlflowRegistry(tracking_uri)
        for model in models:
            champion = registry.version_by_alias(model, "champion")
            assert champion is not None and str(champion.version) == "1", champion
            bento_tag = champion.tags.get("mlops_bot.bento_tag")
            assert bento_tag, f"the promotion of {model} built no bento: tags {champion.tags}"
            record = first_test_record(project, shape)
            with serve(bento_tag, port=free_port(), bentoml_home=tmp_path / "bentoml") as url:
                answer = httpx.post(f"{url}/predict", json={"records": [record]}, timeout=30)
            assert answer.status_code == 200, answer.text
            assert answer.json() in ([0], [1]), answer.json()
    finally:
        standin.stop()


def trained_once(standin: Any, store: Any, repo: str, pr: int, opened_head: str) -> None:
    """One human push, one training: the bot's own dvc.lock commit on top is the PR's head, with the checks,
    and its `synchronize` trains nothing (issue 12)."""
    from bot.handlers.context import JOB_EVENT

    head = standin.pull(repo, pr).head_sha
    assert head != opened_head, "the training committed no dvc.lock onto the PR branch"

    def lock_push_handled() -> bool:
        rows = store.list(limit=1000)
        pushed = [r for r in rows if r.event == "pull_request" and r.action == "synchronize"]
        return bool(pushed) and all(r.status == "done" for r in pushed) and store.queue_depth() == 0

    wait_or_fail(store, "the synchronize of the lock commit, handled", lock_push_handled, 60)
    trains = [r.id for r in store.list(limit=1000) if r.event == JOB_EVENT and r.action == "train"]
    assert len(trains) == 1, f"{len(trains)} trainings for one push: {trains}"
    checks = {r.name: r.conclusion for r in standin.check_runs(repo, head)}
    assert checks and set(checks.values()) == {"success"}, checks


def check_card(
    standin: Any, store: Any, repo: str, pr: int, model: str, shape: Shape, tmp_path: Path
) -> None:
    """The card and check of one model on the PR: a first model judged by the limits init wrote."""

    def card() -> Any:
        return next((c for c in standin.comments(repo, pr)
                     if c.user == BOT and card_marker(model) in c.body), None)  # fmt: skip

    def check_on_head() -> Any:
        head = standin.pull(repo, pr).head_sha
        return next((r for r in standin.check_runs(repo, head)
                     if r.name.endswith(model) and r.status == "completed"), None)  # fmt: skip

    check = wait_or_fail(store, f"the check run of {model} on the PR head", check_on_head, TRAIN_TIMEOUT)
    body = wait_or_fail(store, f"the model card of {model}", card, 30).body
    (tmp_path / f"{model}.card.md").write_text(body)
    print(body)  # read by eye with `pytest -s`
    # init wrote an absolute limit 5 % below each metric's value on main: the first model gets a verdict.
    assert check.conclusion == "success", f"{check.conclusion}: {check.output}"
    for metric in shape.models[model]:
        assert f"| `{metric}` |" in body, body
    assert "Metrics against the base branch <code>main</code>" in body, body
    assert all(said in body for said in shape.card_says), body
    if shape.param[2].startswith(f"| `{model}.") or len(shape.models) == 1:
        assert shape.param[2] in body, body  # the changed parameter
    assert "<!-- mlops-bot" not in body.split("\n", 1)[1].replace(card_marker(model), "")  # one marker
    snapshot = SNAPSHOTS / f"{shape.test_id}.{model}.card.md"
    if not snapshot.exists():
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(normalised(body))
        pytest.fail(f"wrote {snapshot.name}: read it by eye, commit it, run again")
    assert normalised(body) == snapshot.read_text()
