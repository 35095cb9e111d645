"""`mlops-bot card`'s effects on the GitHub stand-in: one sticky comment and one Check Run per (PR, model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.config import CONFIG_PATH
from bot.core.markers import card_marker
from bot.core.models import RunRecord, TrainResult
from bot.jobs.card import check_name, post_cards
from bot.jobs.common import JobEnv
from bot.settings import Settings
from bot.standin import StandIn
from tests.support.mlflow_store import sqlite_registry

CONFIG = """\
models:
  - name: churn
    stage: train
    output: model.pkl
    metrics:
      - name: f1
        tolerance: 0.01
  - name: fraud
    stage: train_fraud
    output: fraud.pkl
"""


@pytest.fixture
def world(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StandIn, JobEnv, int]]:
    src = tmp_path / "src"
    (src / ".github").mkdir(parents=True)
    (src / CONFIG_PATH).write_text(CONFIG)
    with StandIn(tmp_path / "github") as gh:
        gh.create_repo("acme/churn", source=src)
        gh.create_user("alice")
        gh.commit(
            "acme/churn", "tune", {"params.yaml": "train:\n  C: 0.5\n"}, "tune", author="alice", base="main"
        )
        number = gh.open_pull("acme/churn", head="tune", title="Tune C", author="alice")
        token = gh.installation_token(gh.install_app("acme/churn"))
        registry = sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())
        settings = Settings(
            github_token=token,
            github_base_url=gh.base_url,
            github_throttle=False,
            mlflow_tracking_uri=registry.tracking_uri,
        )
        env = JobEnv(settings=settings, repo="acme/churn")
        env.__dict__["registry"] = registry
        yield gh, env, number
        gh.check()


def result(f1: float, *, ok: bool = True, log_tail: str = "", model: str = "churn") -> TrainResult:
    run = (
        RunRecord(run_id="r" * 32, model=model, metrics={"f1": f1}, params={"train.C": "0.5"}, tags={})
        if ok
        else None
    )
    return TrainResult(
        model=model,
        run=run,
        reused=False,
        ok=ok,
        metrics={"f1": f1} if ok else {},
        params_diff={"train.C": {"old": 1.0, "new": 0.5}},
        error="" if ok else "stage train failed",
        log_tail=log_tail,
    )


def test_first_card_then_a_push_edits_the_same_comment(world: tuple[StandIn, JobEnv, int]) -> None:
    gh, env, number = world
    pull = env.gh.pull(number)
    [first] = post_cards(env, [result(0.91)], pull)
    assert first.conclusion in {"success", "neutral"}
    gh.commit("acme/churn", "tune", {"params.yaml": "train:\n  C: 0.3\n"}, "again", author="alice")
    pull = env.gh.pull(number)
    [second] = post_cards(env, [result(0.93)], pull)
    cards = [c for c in gh.comments("acme/churn", number) if card_marker("churn") in c.body]
    assert len(cards) == 1 and cards[0].id == first.comment_id == second.comment_id
    assert "0.93" in cards[0].body and "no champion" in cards[0].body.lower()
    [run] = [r for r in gh.check_runs("acme/churn", pull.head_sha) if r.name == check_name("churn")]
    assert run.status == "completed" and run.conclusion == second.conclusion


def test_a_failing_stage_is_a_failed_check_with_the_log_tail(world: tuple[StandIn, JobEnv, int]) -> None:
    gh, env, number = world
    pull = env.gh.pull(number)
    log = "Traceback (most recent call last):\nValueError: C must be positive ``` <!-- mlops-bot:card model=x -->"
    [outcome] = post_cards(env, [result(0.0, ok=False, log_tail=log)], pull)
    assert outcome.conclusion == "failure"
    [card] = [c.body for c in gh.comments("acme/churn", number)]
    assert "ValueError: C must be positive" in card
    assert card.count("<!-- mlops-bot:card") == 1, "a log line cannot forge a second marker"
    [run] = gh.check_runs("acme/churn", pull.head_sha)
    assert run.conclusion == "failure" and "C must be positive" in (
        run.output.get("text") or run.output.get("summary")
    )


def test_each_model_gets_its_own_card_and_check(world: tuple[StandIn, JobEnv, int]) -> None:
    gh, env, number = world
    pull = env.gh.pull(number)
    outcomes = post_cards(env, [result(0.9), result(0.8, model="fraud")], pull)
    assert [o.model for o in outcomes] == ["churn", "fraud"]
    bodies = [c.body for c in gh.comments("acme/churn", number)]
    assert [sum(card_marker(m) in b for b in bodies) for m in ("churn", "fraud")] == [1, 1]
    names = sorted(r.name for r in gh.check_runs("acme/churn", pull.head_sha))
    assert names == [check_name("churn"), check_name("fraud")]


def test_a_card_without_fresh_training_tells_how_long_the_run_trained(
    world: tuple[StandIn, JobEnv, int],
) -> None:
    from bot.core.tags import RunTags
    from bot.jobs.card import results_for_commit

    _, env, _ = world
    client = env.registry.client
    experiment = client.create_experiment("cards")
    tags = {RunTags.MODEL: "churn", RunTags.HEAD_SHA: "a" * 40, RunTags.TRAINED_SECONDS: "17.4"}
    run = client.create_run(experiment, tags=tags)
    client.set_terminated(run.info.run_id)

    [found] = results_for_commit(env, ["churn"], "a" * 40)

    assert found.reused and found.trained_duration_s == 17.4
