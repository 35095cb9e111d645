"""`models[].evaluation` and the same-data gate options, as a maintainer writes them."""

from __future__ import annotations

import pytest

from bot.core.config import ConfigError, load_config

BASE = """
version: 1
promotion:
  same_data: required
models:
  - name: churn
    stage: train
    output: model.pkl
    metrics:
      - name: accuracy
        tolerance: 0.01
        significant: true
        slice_tolerance: 0.05
"""


def test_short_metric_names_and_defaults() -> None:
    config = load_config(
        BASE + "    evaluation:\n      data: data/test.csv\n      label: churned\n"
        "      metrics: [accuracy, {name: f1, average: macro}]\n      slices: [region]\n"
    )
    spec = config.models[0]
    assert config.promotion.same_data == "required"
    assert spec.metrics[0].significant and spec.metrics[0].slice_tolerance == 0.05
    evaluation = spec.evaluation
    assert evaluation is not None
    assert [(m.name, m.average) for m in evaluation.metrics] == [("accuracy", None), ("f1", "macro")]
    assert (evaluation.resamples, evaluation.confidence, evaluation.features) == (1000, 0.95, None)


@pytest.mark.parametrize(
    ("evaluation", "message"),
    [
        ("data: ../outside.csv\n      label: y", "leaves the repository"),
        ("data: t.csv\n      label: y\n      metrics: [auc]", "'auc' is not a score mlops-bot computes"),
        (
            "data: t.csv\n      label: y\n      metrics: [accuracy, rmse]",
            "mixes classification and regression",
        ),
        ("data: t.csv\n      label: y\n      features: [a, y]", "label 'y' is also listed in `features`"),
    ],
)
def test_mistakes_name_the_fix(evaluation: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(BASE + "    evaluation:\n      " + evaluation + "\n")


def test_evaluation_without_a_computable_metric_is_refused() -> None:
    text = BASE.replace("name: accuracy", "name: revenue_uplift")
    with pytest.raises(ConfigError, match="no metric to compute"):
        load_config(text + "    evaluation:\n      data: t.csv\n      label: y\n")
