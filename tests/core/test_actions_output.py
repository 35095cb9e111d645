"""Workflow commands as the runner parses them: a message or a file name with `:` `,` `%` or a line break
must arrive whole, not end the property early or start a new command."""

from __future__ import annotations

import pytest

from bot.core.actions_output import (
    Annotation,
    config_error_annotations,
    escape_data,
    escape_property,
    failed_stage,
    group_start,
    key_line,
    output_entry,
    stage_line,
)


def test_message_escapes_percent_first_then_line_breaks() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_data("%0A") == "%250A"  # an escape in the text stays text


def test_property_also_escapes_colon_and_comma() -> None:
    assert escape_property("C:\\x,y.yml") == "C%3A\\x%2Cy.yml"


@pytest.mark.parametrize(
    ("note", "command"),
    [
        (Annotation("warning", "plain"), "::warning::plain"),
        (
            Annotation("error", "a: b, c\nd", file="dvc.yaml", line=7, title="train: m"),
            "::error file=dvc.yaml,line=7,title=train%3A m::a: b, c%0Ad",
        ),
        (Annotation("notice", "n", line=3), "::notice::n"),  # a line without a file means nothing
        (Annotation("error", "e", file="a,b.yml"), "::error file=a%2Cb.yml::e"),
    ],
)
def test_annotation_command(note: Annotation, command: str) -> None:
    assert note.command() == command


def test_a_multiline_group_title_cannot_start_another_command() -> None:
    assert group_start("x\n::error::boom") == "::group::x%0A::error::boom"


def test_output_entry_single_and_multiline() -> None:
    assert output_entry("run-id", "abc", delimiter="EOF") == "run-id=abc\n"
    assert output_entry("log", "a\nb", delimiter="D1") == "log<<D1\na\nb\nD1\n"
    with pytest.raises(ValueError, match="delimiter"):
        output_entry("log", "a\nD1\nx=y", delimiter="D1")
    with pytest.raises(ValueError, match="output name"):
        output_entry("bad name", "v", delimiter="D")


def test_config_errors_keep_their_line() -> None:
    notes = config_error_annotations(
        ".github/mlops-bot.yml",
        ["line 12: models.0.stage: Field required", "the file is empty"],
    )
    assert [(n.file, n.line, n.message) for n in notes] == [
        (".github/mlops-bot.yml", 12, "models.0.stage: Field required"),
        (".github/mlops-bot.yml", None, "the file is empty"),
    ]
    assert notes[0].command().startswith("::error file=.github/mlops-bot.yml,line=12,")


DVC_YAML = """\
# pipeline
stages:
  prepare:
    cmd: python prepare.py
  train:
    cmd: python train.py
    deps: [data.csv]
"""


def test_stage_line_and_failed_stage() -> None:
    assert stage_line(DVC_YAML, "train") == 5
    assert stage_line(DVC_YAML, "prepare") == 3
    assert stage_line(DVC_YAML, "missing") is None
    assert stage_line("stages: [", "train") is None
    assert stage_line("", "train") is None
    assert failed_stage("stage 'prepare' failed (dvc exited with 1)", "train") == "prepare"
    assert failed_stage("dvc.lock has no output", "train") == "train"


def test_key_line_finds_a_gated_metric() -> None:
    config = "models:\n  - name: m\n    metrics:\n      - name: f1\n      - name: auc\n"
    assert key_line(config, ("models", 0, "metrics", 1)) == 5
    assert key_line(config, ("models", 0, "metrics", 9)) == 3  # the deepest key that exists
    assert key_line("{", ("models",)) is None


def test_a_failed_gate_points_at_its_metric_in_the_config() -> None:
    from bot.core.actions_output import gate_annotation

    config = "models:\n  - name: a\n  - name: bc\n    metrics:\n      - name: f1\n      - name: auc\n"
    models = [("a", []), ("bc", ["f1", "auc"])]
    note = gate_annotation(config, ".github/mlops-bot.yml", models, "bc", "auc", "auc 0.7 below min 0.8")
    assert (note.level, note.file, note.line) == ("warning", ".github/mlops-bot.yml", 6)
    assert note.message == "bc: auc 0.7 below min 0.8"
    approvals = gate_annotation(config, ".github/mlops-bot.yml", models, "bc", "", "needs 1 approval")
    assert approvals.line == 3  # not a metric's gate: the model's own line
