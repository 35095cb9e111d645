"""`mlops-bot init` proposes `evaluation:` from dvc.yaml: a held-out split the model's stages read."""

from __future__ import annotations

from typing import Any

from bot.core.config import load_config
from bot.core.project_scan import propose, render_config

SAMPLE: dict[str, Any] = {
    "stages": {
        "prepare": {
            "cmd": "python src/prepare.py",
            "deps": ["src/prepare.py"],
            "outs": ["data/train.csv", "data/test.csv"],
        },
        "train": {
            "cmd": "python src/train.py",
            "deps": ["src/train.py", "data/train.csv", "data/test.csv"],
            "outs": ["model.pkl"],
            "metrics": [{"metrics.json": {"cache": False}}],
        },
    }
}
METRICS = {"metrics.json": {"accuracy": 0.96, "f1": 0.97}}
LOCK = {"stages": {"train": {"outs": [{"path": "metrics.json", "md5": "x"}]}}}


def test_the_held_out_split_is_proposed_as_the_evaluation_data() -> None:
    proposal = propose(SAMPLE, project_name="breast", lock=LOCK, metrics=METRICS)
    text = render_config(proposal)

    [model] = proposal.models
    assert model.evaluation_data == "data/test.csv"
    assert "    # evaluation: # the champion scored with each PR's candidate on the same rows" in text
    assert "    #   data: data/test.csv # a held-out split in dvc.yaml" in text
    assert any("data/test.csv looks like the held-out split" in line for line in proposal.inferred)
    # uncommented, with its label set, it is a valid config
    live = text.replace("    # evaluation:", "    evaluation:").replace("    #   data:", "      data:")
    live = live.replace("    #   label: target", "      label: target")
    spec = load_config(live).model("breast")
    assert spec is not None and spec.evaluation is not None
    assert (spec.evaluation.data, spec.evaluation.label) == ("data/test.csv", "target")


def test_without_a_held_out_file_nothing_is_proposed() -> None:
    stages = {"train": {"cmd": "python train.py", "deps": ["data/train.csv"], "outs": ["model.pkl"]}}

    [model] = propose({"stages": stages}, project_name="p").models

    assert model.evaluation_data == ""
    assert "evaluation:" not in render_config(propose({"stages": stages}, project_name="p"))


def test_config_check_names_evaluation_data_nothing_writes() -> None:
    from bot.core.project_scan import ProjectFacts, check_against_project

    text = (
        "models:\n  - name: breast\n    stage: train\n    output: model.pkl\n    metrics: [{name: accuracy}]\n"
        "    evaluation: {data: data/holdout.csv, label: target}\n"
    )
    facts = ProjectFacts(dvc_yaml=SAMPLE, metrics=METRICS)

    problems = check_against_project(load_config(text), facts)
    fine = check_against_project(load_config(text.replace("holdout", "test")), facts)

    assert [(p.key, p.message) for p in problems] == [
        (
            "models.0.evaluation.data",
            "data/holdout.csv does not exist in the repository, and neither a .dvc file nor a stage in "
            "dvc.yaml writes it: the champion could not be scored on it",
        )
    ]
    assert fine == []
