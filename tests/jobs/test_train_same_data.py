"""A PR training of the sample project with `evaluation:`: the champion (models:/breast-cancer@champion)
is re-scored on the PR's test split next to the candidate, logged to the run, and shown on the card."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.core import gates
from bot.core.card import CardFacts, render_card
from bot.core.config import RepoConfig, load_config
from bot.jobs.train import TrainContext, train
from tests.support.sample_repo import MODEL, TrainedSample, commit_all, set_param

EVALUATION = """    evaluation:
      data: data/test.csv
      label: target
      metrics: [accuracy, f1, roc_auc]
"""


def _config(sample: Path) -> RepoConfig:
    text = (sample / ".github" / "mlops-bot.yml").read_text()
    anchor = "    training_data:\n"
    assert anchor in text
    return load_config(text.replace(anchor, EVALUATION + anchor, 1))


def _context(sha: str, pr: int | None) -> TrainContext:
    return TrainContext(repo="octo/breast", pr=pr, head_sha=sha, base_sha=sha, base_ref="main")


@pytest.mark.slow
def test_a_pr_that_barely_changes_the_model_is_compared_with_the_champion_on_the_same_rows(
    sample: Path, registry: MlflowRegistry, trained: TrainedSample
) -> None:
    config = _config(sample)
    [first] = train(sample, config, model=MODEL, context=_context(trained.sha, None), registry=registry)
    assert (
        first.ok and first.run is not None and first.same_data is None
    )  # no champion yet: nothing to compare
    version = registry.register(MODEL, first.run, {})
    registry.set_alias(MODEL, "champion", version.version)

    # A regularisation tweak on the same split. (A new split seed would not do here: the champion was trained
    # on rows of the new test split, and scores better on them than a fair comparison would.)
    set_param(sample, "C: 1.0", "C: 0.9")
    sha = commit_all(sample, "Regularise a little more")
    [result] = train(sample, config, model=MODEL, context=_context(sha, 7), registry=registry)

    comparison = result.same_data
    assert result.ok and comparison is not None and comparison.ok, comparison
    assert comparison.rows == 143 and comparison.champion_version == version.version  # the PR's test split
    assert [m.name for m in comparison.metrics] == ["accuracy", "f1", "roc_auc"]
    assert [m.verdict for m in comparison.metrics] == ["not distinguishable"] * 3, comparison.metrics
    assert result.run is not None
    logged = registry.run(result.run.run_id)
    assert logged is not None and set(comparison.champion_metrics()) <= set(logged.metrics)

    spec = config.model(MODEL)
    assert spec is not None
    champion = registry.version_by_alias(MODEL, "champion")
    assert champion is not None
    decision = gates.evaluate(
        spec, result.metrics, champion.metrics, promotion=config.promotion, same_data=comparison
    )
    card = render_card(
        CardFacts(
            repo="octo/breast",
            pr_number=7,
            model=spec,
            result=result,
            champion=champion,
            decision=decision,
            head_sha=sha,
            base_ref="main",
            same_data=comparison,
        )
    )
    assert "#### On the same data: 143 rows of `data/test.csv`" in card
    assert "#### Recorded metrics" in card
    assert "accuracy on the same data (143 rows of data/test.csv)" in card
