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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import load_config
from bot.core.markers import card_marker
from tests.reliability.harness import ADMIN, BOT, app_keys, bot_in_process, free_port, make_world
from tests.support.dvc_projects import FixtureProject, dvclive_project, evaluate_stage_project, git

pytestmark = pytest.mark.slow

TRAIN_TIMEOUT = 240.0
SNAPSHOTS = Path(__file__).parent / "snapshots"


@dataclass(frozen=True)
class Shape:
    """One fixture project and what a newcomer and the card should see of it."""

    name: str  # the project's folder: init names the model after it
    build: Callable[..., FixtureProject]
    committed_after_repro: tuple[str, ...]  # what `dvc repro` leaves for git (cache: false outs, .gitignore)
    init_says: str  # how init reports the gated metrics it found
    metrics: tuple[str, ...]  # gated metric names init proposes, in its order
    param: tuple[str, str, str]  # (params.yaml line, changed line, the card's params-diff row)


SHAPES = [
    Shape(
        name="churn-gb",
        build=evaluate_stage_project,
        committed_after_repro=("dvc.lock", ".gitignore", "reports"),
        init_says="gates on accuracy, roc_auc from reports/scores.json",
        metrics=("accuracy", "roc_auc"),
        param=("n_estimators: 20", "n_estimators: 40", "| `train.n_estimators` | 20 | 40 |"),
    ),
    Shape(
        name="churn-rf",
        build=dvclive_project,
        committed_after_repro=("dvc.lock", ".gitignore"),
        init_says="gates on avg_prec.test, roc_auc.test from eval/metrics.json",
        metrics=("avg_prec.test", "roc_auc.test"),
        param=("n_estimators: 10", "n_estimators: 30", "| `train.n_estimators` | 10 | 30 |"),
    ),
]


def normalised(card: str) -> str:
    """The card with what differs between runs (run ids, commit shas, hashes, seconds) replaced."""
    card = re.sub(r"\b[0-9a-f]{12,40}\b", "<hex>", card)
    return re.sub(r"trained in \d+ s", "trained in <n> s", card)


def mlops_bot(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, as a user types it in the project's folder."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=root, capture_output=True, text=True, timeout=120
    )


def init_as_a_newcomer(project: FixtureProject, shape: Shape) -> str:
    """What a newcomer does, step by step as `init` tells them. Returns the model name init chose.

    The fixture's hand-written config is dropped first. On a project that never ran, `init` cannot read the
    metrics file and says "run `dvc repro`, commit dvc.lock and run init again": the test does exactly that
    (the user's own `dvc repro`, in their environment: stages need scikit-learn), so the config gates on
    the metrics the evaluate stage writes. Nothing of the pipeline (dvc.yaml, params, code) changes."""
    git(project.root, "rm", "-q", ".github/mlops-bot.yml")
    git(project.root, "commit", "-q", "-m", "Start without a bot config")
    pipeline = ("dvc.yaml", "params.yaml", "src/train.py", "src/evaluate.py")  # both shapes have these
    pipeline_before = {p: (project.root / p).read_text() for p in pipeline}

    first = mlops_bot(project.root, "init")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "run `dvc repro`, commit dvc.lock and run init again" in first.stdout, first.stdout
    checked = mlops_bot(project.root, "config", "check")
    assert checked.returncode == 0 and "0 gated metric(s)" in checked.stdout, checked.stdout + checked.stderr

    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
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
    assert shape.init_says in again.stdout, again.stdout
    checked = mlops_bot(project.root, "config", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 gated metric(s)" in checked.stdout and "matches dvc.yaml" in checked.stdout, checked.stdout

    changed = git(project.root, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert all(line[3:].startswith(".github/") for line in changed), changed  # init wrote only .github/
    assert {p: (project.root / p).read_text() for p in pipeline} == pipeline_before
    git(project.root, "add", ".github")
    git(project.root, "commit", "-q", "-m", "Add mlops-bot (mlops-bot init)")
    (model,) = load_config((project.root / ".github" / "mlops-bot.yml").read_text()).models
    assert tuple(m.name for m in model.metrics) == shape.metrics
    return model.name


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


def first_test_row(project: FixtureProject) -> tuple[list[float], int]:
    with (project.root / "data" / "test.csv").open() as f:
        row = next(csv.DictReader(f))
    return [float(row["a"]), float(row["b"]), float(row["c"])], int(row["label"])


@pytest.mark.parametrize("shape", SHAPES, ids=[s.build.__name__ for s in SHAPES])
def test_an_unchanged_project_trains_cards_merges_promotes_and_serves(
    shape: Shape, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.adapters.mlflow import MlflowRegistry

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))  # the bento store of this test only
    project = shape.build(tmp_path / shape.name, remote=tmp_path / "dvc-remote")
    model = init_as_a_newcomer(project, shape)
    assert model == shape.name  # init names the model after the repository's folder
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
        old, new, diff_row = shape.param
        assert old in params
        standin.commit(repo, "more-trees", {"params.yaml": params.replace(old, new)}, "More trees",
                       author=ADMIN, base="main")  # fmt: skip

        with bot_in_process(world) as store:
            pr = standin.open_pull(repo, head="more-trees", title="More trees", author=ADMIN)

            def card() -> Any:
                return next((c for c in standin.comments(repo, pr)
                             if c.user == BOT and card_marker(model) in c.body), None)  # fmt: skip

            def check_on_head() -> Any:
                head = standin.pull(repo, pr).head_sha
                return next((r for r in standin.check_runs(repo, head)
                             if r.name.endswith(model) and r.status == "completed"), None)  # fmt: skip

            check = wait_or_fail(store, "the check run on the PR head", check_on_head, TRAIN_TIMEOUT)
            body = wait_or_fail(store, "the model card", card, 30).body
            (tmp_path / "card.md").write_text(body)
            print(body)  # read by eye with `pytest -s`
            # init gates on the metrics relative to the champion (tolerance, no absolute `min:`): on the
            # first model there is nothing to compare with, and the check says so rather than passing.
            assert check.conclusion == "neutral", f"{check.conclusion}: {check.output}"
            assert "no champion yet, nothing to compare with" in body, body
            # The evaluate stage's metrics (a top-level `metrics:` of dvc.yaml), on the card and against main.
            for metric in shape.metrics:
                assert f"| `{metric}` |" in body, body
            assert "Metrics against the base branch `main`" in body, body
            assert diff_row in body, body  # the changed parameter
            snapshot = SNAPSHOTS / f"{shape.build.__name__}.card.md"
            if not snapshot.exists():
                snapshot.parent.mkdir(exist_ok=True)
                snapshot.write_text(normalised(body))
                pytest.fail(f"wrote {snapshot.name}: read it by eye, commit it, run again")
            assert normalised(body) == snapshot.read_text()

            standin.merge_pull(repo, pr, by=ADMIN, method="squash")

            def deployed() -> Any:
                for d in standin.deployments(repo):
                    states = [s.state for s in d.statuses]
                    if "failure" in states or "error" in states:
                        raise AssertionError(f"deployment {d.id} failed: {d.statuses[-1].description}")
                    if "success" in states:
                        return d
                return None

            deployment = wait_or_fail(store, "the production Deployment", deployed, TRAIN_TIMEOUT)
            assert deployment.environment == "production"

        registry = MlflowRegistry(tracking_uri)
        champion = registry.version_by_alias(model, "champion")
        assert champion is not None and str(champion.version) == "1", champion
        bento_tag = champion.tags.get("mlops_bot.bento_tag")
        assert bento_tag, f"the promotion built no bento: tags {champion.tags}"

        import httpx

        from bot.adapters.bentoml import serve

        row, _label = first_test_row(project)
        with serve(bento_tag, port=free_port(), bentoml_home=tmp_path / "bentoml") as url:
            answer = httpx.post(f"{url}/predict", json={"rows": [row]}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() in ([0], [1]), answer.json()
    finally:
        standin.stop()
