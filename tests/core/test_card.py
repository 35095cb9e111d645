"""The model card: snapshots of the usual cases, the size limit, and hostile input."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from jinja2.exceptions import SecurityError

from bot.core.card import CardFacts, card_context, check_conclusion, check_run_output, render_card
from bot.core.config import MetricSpec, ModelSpec, Promotion
from bot.core.gates import evaluate
from bot.core.markdown import COMMENT_LIMIT, size
from bot.core.markers import card_marker, find_markers
from bot.core.models import ModelVersion, Plot, PlotSeries, RunRecord, TrainResult

Snapshot = Callable[[str, str], None]

SPEC = ModelSpec(
    name="churn",
    stage="train",
    output="models/model.pkl",
    metrics=[MetricSpec(name="f1", tolerance=0.01, min=0.8), MetricSpec(name="log_loss", direction="lower")],
    intended_use="Rank customers by churn risk for the retention team. Not for pricing decisions.",
    caveats=["Trained on 2024 data only.", "Customers with under 30 days of history are excluded."],
    training_data=["data/train.csv", "data/extra.csv"],
)
RUN = RunRecord(
    run_id="6f1c2d3e4b5a69788796a5b4c3d2e1f0",
    model="churn",
    metrics={"f1": 0.931, "log_loss": 0.281, "accuracy": 0.953},
    params={"train.C": "0.5"},
    tags={},
    url="http://127.0.0.1:5000/#/experiments/1/runs/6f1c2d3e4b5a69788796a5b4c3d2e1f0",
)
ROC = [{"fpr": i / 200, "tpr": min(1.0, (i / 200) ** 0.25), "threshold": 1 - i / 200} for i in range(201)]
CONFUSION = [
    {"actual": a, "predicted": p} for a, p in [("0", "0")] * 90 + [("0", "1")] * 5 + [("1", "1")] * 40
]
ROC_PLOT = Plot(
    id="plots/roc.json",
    title="plots/roc.json",
    x_label="fpr",
    y_label="tpr",
    series=[PlotSeries("plots/roc.json", "fpr", "tpr", x=[r["fpr"] for r in ROC], y=[r["tpr"] for r in ROC])],
)
CONFUSION_PLOT = Plot(
    id="plots/confusion.json",
    title="plots/confusion.json",
    template="confusion",
    x_label="actual",
    y_label="predicted",
    series=[
        PlotSeries(
            "plots/confusion.json",
            "actual",
            "predicted",
            x=[r["actual"] for r in CONFUSION],
            y=[r["predicted"] for r in CONFUSION],
        )
    ],
)
RESULT = TrainResult(
    model="churn",
    run=RUN,
    reused=False,
    ok=True,
    output_hash="4a5b6c7d8e9f00112233445566778899",
    metrics=dict(RUN.metrics),
    params_diff={"train.C": {"old": 1.0, "new": 0.5}, "train.solver": {"old": None, "new": "saga"}},
    base_metrics={"f1": 0.925, "log_loss": 0.29, "accuracy": 0.95},
    plots=[CONFUSION_PLOT, ROC_PLOT],
    lineage={"data/train.csv": "0cc175b9c0f1b6a831c399e269772661"},
    duration_s=83.2,
)
CHAMPION = ModelVersion(name="churn", version="3", run_id="a1b2c3d4", metrics={"f1": 0.925, "log_loss": 0.29})
SHA = "3f2e1d0c9b8a7f6e5d4c3b2a1908f7e6d5c4b3a2"


def facts(**changes: Any) -> CardFacts:
    result = changes.pop("result", RESULT)
    champion = changes.pop("champion", CHAMPION)
    spec = changes.pop("model", SPEC)
    decision = evaluate(spec, result.metrics, champion.metrics if champion else None, promotion=Promotion())
    base = CardFacts(
        repo="acme/churn",
        pr_number=42,
        model=spec,
        result=result,
        champion=champion,
        decision=decision,
        head_sha=SHA,
        base_ref="main",
        ci_url="https://github.com/acme/churn/actions/runs/99",
        pr_title="Lower the regularisation",
        updated_at="2026-11-26 15:00 UTC",
    )
    return replace(base, **changes)


FAILED = replace(
    RESULT,
    ok=False,
    run=None,
    metrics={},
    plots=[],
    error="dvc repro failed: stage 'train' exited with code 1",
    log_tail="Running stage 'train':\n> python train.py\nTraceback (most recent call last):\n"
    '  File "train.py", line 12, in <module>\nValueError: Input contains NaN\n',
)


@pytest.mark.parametrize(
    ("name", "card"),
    [
        ("card_trained.md", lambda: facts()),
        ("card_first_model.md", lambda: facts(champion=None)),
        (
            "card_gate_failed_reused.md",
            lambda: facts(result=replace(RESULT, reused=True, metrics={"f1": 0.9}, trained_duration_s=17.4)),
        ),
        ("card_failed.md", lambda: facts(result=FAILED)),
        ("card_waiting.md", lambda: facts(status="waiting", waiting_reason="pull request from a fork")),
    ],
)
def test_card_snapshots(name: str, card: Callable[[], CardFacts], snapshot: Snapshot) -> None:
    body = render_card(card())
    assert body.startswith(card_marker("churn") + "\n")
    snapshot(name, body)


def test_first_model_reads_naturally() -> None:
    body = render_card(facts(champion=None))
    assert "This is the first version of `churn`: there is no champion to compare with yet" in body
    assert "| `f1` | 0.931 | – | – | – | ↑ higher is better | ✅ |" in body  # judged by its floor only


def test_card_shows_the_gate_verdicts_and_next_commands() -> None:
    body = render_card(facts(result=replace(RESULT, metrics={"f1": 0.912, "log_loss": 0.3})))
    assert "❌ f1 0.912 vs champion 0.925: dropped 0.013, more than the allowed 0.010" in body
    assert "`/promote churn --dry-run`" in body and "`/train churn`" in body and "`/card churn`" in body


def test_a_card_whose_gates_failed_does_not_promise_that_merging_promotes() -> None:
    body = render_card(facts(result=replace(RESULT, metrics={"f1": 0.912, "log_loss": 0.3})))
    assert "promotes the model if the gates pass" not in body
    assert (
        "- merging this pull request does not promote the model while its gates fail (f1, log\\_loss)" in body
    )
    passing = render_card(facts())
    assert "- merging this pull request promotes the model if the gates pass" in passing


def test_a_folded_section_title_shows_code_as_code_not_backticks() -> None:
    body = render_card(facts(result=replace(RESULT, base_metrics={"f1": 0.9})))
    assert "<summary>Metrics against the base branch <code>main</code></summary>" in body
    assert not re.search(r"<summary>[^<]*`", body), "a <summary> shows literal backticks on GitHub"


def test_roc_curve_becomes_a_mermaid_chart_of_at_most_50_points() -> None:
    body = render_card(facts())
    chart = re.search(r"```mermaid\n(.*?)\n```", body, re.S)
    assert chart is not None
    lines = chart.group(1).split("\n")
    assert lines[0].startswith("%%{init:") and lines[1] == "xychart-beta"
    assert 'x-axis "fpr" 0 --> 1' in chart.group(1) and 'y-axis "tpr" 0 --> 1' in chart.group(1)
    values = re.search(r"line \[(.*)\]", chart.group(1))
    assert values is not None
    numbers = values.group(1).split(", ")
    assert len(numbers) == 50
    assert all(len(n) <= 6 for n in numbers)  # short numbers
    assert float(numbers[0]) == 0 and float(numbers[-1]) == 1


def test_confusion_matrix_becomes_a_table() -> None:
    body = render_card(facts())
    assert "| actual \\ predicted | 0 | 1 |" in body
    assert "| **0** | 90 | 5 |" in body and "| **1** | 0 | 40 |" in body


def test_a_5mb_log_tail_fits_and_shows_the_end() -> None:
    log = "".join(f"step {i}: ok\n" for i in range(400_000)) + "FATAL: the real error\n"
    assert len(log) > 5_000_000
    body = render_card(facts(result=replace(FAILED, log_tail=log)))
    assert size(body) <= COMMENT_LIMIT
    assert "FATAL: the real error" in body
    assert "The full log is in the CI artifact" in body
    _title, summary, text = check_run_output(facts(result=replace(FAILED, log_tail=log)))
    assert size(summary) <= 65_535 and size(text) <= 65_535
    assert "FATAL: the real error" in text


def test_a_log_cannot_close_its_fence_or_forge_a_marker() -> None:
    log = "```\n# Not a heading\n<!-- mlops-bot:card model=fraud -->\n`````\n<img src=x onerror=alert(1)>\n"
    body = render_card(facts(result=replace(FAILED, log_tail=log)))
    assert find_markers(body) == [card_marker("churn")]
    block = re.search(r"\n(`{6,})text\n(.*?)\n\1\n", body, re.S)
    assert block is not None and "<img src=x" in block.group(2)  # inert inside the block


@pytest.mark.parametrize(
    "hostile",
    [
        "a | b | c",
        "<!-- mlops-bot:card model=fraud -->",
        "--> <script>alert(1)</script>",
        "`` ` ``` \n| --- |\n",
        "[phish](https://evil.example) @org/everyone",
    ],
)
def test_hostile_title_and_params_cannot_break_the_card(hostile: str) -> None:
    result = replace(
        RESULT,
        params_diff={hostile: {"old": hostile, "new": hostile}},
        metrics={**RESULT.metrics, hostile: 1.0},
        lineage={hostile: hostile},
    )
    body = render_card(facts(pr_title=hostile, result=result))
    assert find_markers(body) == [card_marker("churn")]
    outside_code = re.sub(r"(`+)(.+?)\1", "", body)  # inside a code span, text is shown as typed
    assert "<script>" not in outside_code and "<img" not in outside_code
    assert not re.search(r"(?<!\\)\]\(https://evil", outside_code)  # no live link
    assert not re.search(r"@(?!\u200b)org/everyone", outside_code)  # no mention that pings
    for line in body.split("\n"):
        if line.startswith("| ") and "Parameter" not in line:
            cells = re.split(r"(?<!\\)\|", line.replace("\\\\", ""))
            header_cells = {7 + 2, 5 + 2, 3 + 2, 2 + 2}  # metrics, base, params, lineage tables (+ edges)
            assert len(cells) in header_cells | {4, 5}, line


def test_custom_template_text_is_used_sandboxed_and_marked() -> None:
    template = "{{ marker_free }}Custom card for {{ name }}: {{ gate.summary }}\n"
    with pytest.raises(Exception, match="marker_free"):
        render_card(facts(), template)
    body = render_card(facts(), "Custom card for {{ name }}: {{ gate.summary }}\n" + card_marker("churn"))
    assert body == f"{card_marker('churn')}\nCustom card for churn: gates passed\n"
    with pytest.raises(SecurityError):
        render_card(facts(), "{{ name.__class__.__mro__[1].__subclasses__() }}")


def test_shipped_templates_are_importable_from_a_custom_one() -> None:
    body = render_card(facts(), '{% include "card/model_card.md.j2" %}\n<sub>Custom footer</sub>\n')
    assert body.count(card_marker("churn")) == 1
    assert "#### Metrics" in body and body.rstrip().endswith("<sub>Custom footer</sub>")


def test_check_run_output() -> None:
    title, summary, text = check_run_output(facts())
    assert title == "churn: gates passed"
    assert "#### Metrics" in summary and not find_markers(summary)
    assert "✅ f1 0.931 vs champion 0.925: improved by 0.006" in text


@pytest.mark.parametrize(
    ("card", "conclusion"),
    [
        (lambda: facts(), "success"),
        (lambda: facts(result=replace(RESULT, metrics={"f1": 0.5})), "failure"),
        (lambda: facts(result=FAILED), "failure"),
        (lambda: facts(status="waiting"), None),
        (
            lambda: facts(champion=None, model=SPEC.model_copy(update={"metrics": [MetricSpec(name="f1")]})),
            "neutral",
        ),
    ],
)
def test_check_conclusion(card: Callable[[], CardFacts], conclusion: str | None) -> None:
    assert check_conclusion(card()) == conclusion


def test_context_values_are_escaped_strings() -> None:
    context = card_context(facts(pr_title="<b>x</b>"))
    assert context["pr_title"] == "&lt;b&gt;x&lt;/b&gt;"
    assert context["run_url"].startswith("http://127.0.0.1")
    assert card_context(facts(ci_url="javascript:alert(1)"))["ci_url"] == ""


# -- plots as DVC defines them: dvclive's shapes, overlays, images ----------------------------------------


def dvclive_plots() -> list[Plot]:
    """What `DvcProject.plots` reads from the DVC get-started layout (tests/support/dvc_projects.py)."""

    def roc(split: str, bend: float) -> PlotSeries:
        xs = [i / 20 for i in range(21)]
        return PlotSeries(
            f"eval/plots/sklearn/roc/{split}.json", "fpr", "tpr", x=xs, y=[round(x**bend, 4) for x in xs]
        )

    def cm(split: str, pairs: list[tuple[str, str]]) -> PlotSeries:
        return PlotSeries(
            f"eval/plots/sklearn/cm/{split}.json",
            "actual",
            "predicted",
            x=[a for a, _ in pairs],
            y=[p for _, p in pairs],
        )

    return [
        Plot(
            id="ROC",
            title="ROC",
            template="simple",
            x_label="fpr",
            y_label="tpr",
            series=[roc("train", 0.2), roc("test", 0.35)],
        ),
        Plot(
            id="Confusion-Matrix",
            title="Confusion-Matrix",
            template="confusion",
            x_label="actual",
            y_label="predicted",
            series=[
                cm("train", [("0", "0")] * 120 + [("1", "0")] * 9 + [("1", "1")] * 111),
                cm("test", [("0", "0")] * 52 + [("0", "1")] * 8 + [("1", "1")] * 60),
            ],
        ),
        Plot(
            id="eval/importance.png",
            title="eval/importance.png",
            template="image",
            image="eval/importance.png",
        ),
        Plot(
            id="eval/prc.json",
            title="eval/prc.json",
            error="the file does not exist (did the stage write it?)",
        ),
    ]


DVCLIVE_SPEC = ModelSpec(
    name="churn-rf",
    stage="train",
    output="model.pkl",
    metrics=[MetricSpec(name="roc_auc.test", min=0.6)],
)
DVCLIVE_RESULT = TrainResult(
    model="churn-rf",
    run=replace(RUN, model="churn-rf", url=""),
    reused=False,
    ok=True,
    output_hash="4a5b6c7d8e9f00112233445566778899",
    metrics={"avg_prec.train": 0.98, "avg_prec.test": 0.912, "roc_auc.train": 0.987, "roc_auc.test": 0.934},
    plots=dvclive_plots(),
    duration_s=9.0,
)


def test_card_snapshot_of_a_dvclive_project(snapshot: Snapshot) -> None:
    body = render_card(facts(model=DVCLIVE_SPEC, result=DVCLIVE_RESULT, champion=None))
    snapshot("card_dvclive.md", body)


def test_plots_keep_dvc_order_and_overlay_series_with_named_colours() -> None:
    body = render_card(facts(model=DVCLIVE_SPEC, result=DVCLIVE_RESULT, champion=None))
    assert body.index("<summary>ROC</summary>") < body.index("<summary>Confusion-Matrix</summary>")
    chart = re.search(r"```mermaid\n(.*?)\n```", body, re.S)
    assert chart is not None and len(re.findall(r"^    line \[", chart.group(1), re.M)) == 2
    assert '"plotColorPalette": "#1f77b4, #ff7f0e"' in chart.group(1)
    assert "blue: `train.json` · orange: `test.json`" in body
    assert "**`train.json`**" in body and "| **1** | 9 | 111 |" in body  # one matrix per split
    assert "_Not shown: the file does not exist (did the stage write it?)_" in body


def test_an_image_plot_links_the_run_artifact_on_the_mlflow_host_only() -> None:
    url = "http://mlflow.internal:5000/#/experiments/1/runs/abc"
    result = replace(DVCLIVE_RESULT, run=replace(RUN, url=url))
    body = render_card(facts(model=DVCLIVE_SPEC, result=result, champion=None))
    assert f"[open it in MLflow]({url}/artifactPath/eval/importance.png)" in body
    without_ui = render_card(facts(model=DVCLIVE_SPEC, result=DVCLIVE_RESULT, champion=None))
    assert f"logged as an artifact of MLflow run `{RUN.run_id}`" in without_ui
    assert "](http" not in without_ui.split("#### Plots")[1].split("#### Model details")[0]


# -- the card tells the truth (issue 16) --------------------------------------------------------------


def test_a_small_metric_difference_is_shown_with_the_digits_that_make_it() -> None:
    result = replace(RESULT, metrics={"f1": 0.9712, "log_loss": 0.281}, base_metrics={"f1": 0.9708})
    body = render_card(facts(result=result, champion=replace(CHAMPION, metrics={"f1": 0.9708})))

    assert "| `f1` | 0.9712 | 0.9708 | +0.0004 | +0.041 % |" in body
    assert "| `f1` | 0.9708 | 0.9712 | +0.0004 | +0.041 % |" in body  # against the base branch
    assert "+0.000 " not in body and "+0.0 %" not in body


def test_a_failure_message_keeps_its_commands_as_code() -> None:
    error = "not in the local DVC cache nor in the DVC remote: data/x.csv. Run `dvc push` where it was made"
    body = render_card(facts(result=replace(FAILED, error=error)))

    assert "Run `dvc push` where it was made" in body
    assert "\\`" not in body


def test_a_reused_run_tells_how_long_its_training_took() -> None:
    reused = replace(RESULT, reused=True, duration_s=5.2, trained_duration_s=17.4)
    body = render_card(facts(result=reused))

    assert "trained in 17 s" in body
    assert "5 s" not in body
    assert "nothing to reproduce" in body.lower()


def test_a_push_warning_is_on_the_card_with_what_to_do() -> None:
    warning = "dvc push to the DVC remote 'r' (gdrive://x) needs the DVC plugin dvc-gdrive: `pip install dvc-gdrive`"
    body = render_card(facts(result=replace(RESULT, warnings=[warning])))

    assert "⚠️" in body and "`pip install dvc-gdrive`" in body and "\\`" not in body


def test_a_first_card_shows_every_param() -> None:
    first = replace(RESULT, params={"train.C": 0.5, "train.solver": "saga", "data.snapshot": "2024-01"})
    body = render_card(facts(result=first, champion=None))

    assert "3 parameter(s)" in body
    for row in ("| `train.C` | 0.5 |", "| `train.solver` | saga |", "| `data.snapshot` | 2024-01 |"):
        assert row in body
    assert "3 parameter(s)" not in render_card(facts(result=first))  # a champion: the diff says it


def test_a_run_that_reproduced_nothing_says_so() -> None:
    body = render_card(facts(result=replace(RESULT, reproduced=False, duration_s=4.0)))

    assert "Nothing was reproduced" in body
    assert "trained in" not in body
    assert "Nothing was reproduced" not in render_card(facts(result=replace(RESULT, reproduced=True)))


def test_a_waiting_reason_keeps_its_commands_as_code() -> None:
    body = render_card(
        facts(status="waiting", waiting_reason="a maintainer must comment `/ok-to-test` first")
    )

    assert "comment `/ok-to-test` first" in body and "\\`" not in body


def test_how_to_reproduce_names_every_stage_the_training_ran() -> None:
    body = render_card(facts(result=replace(RESULT, stages=["train", "evaluate"])))
    assert "dvc repro train evaluate\n" in body
    assert "dvc repro train\n" in render_card(facts())  # a result that names no stages: the model's stage


def test_a_curve_of_rates_is_drawn_on_the_whole_unit_square() -> None:
    """A ROC whose tpr starts at 0.78 is not drawn from 0.78 up: that turns a good curve into a cliff."""
    fpr = [0.0, 0.1, 0.5, 1.0]
    roc = replace(ROC_PLOT, series=[PlotSeries("roc.json", "fpr", "tpr", x=fpr, y=[0.78, 0.9, 0.97, 1.0])])
    body = render_card(facts(result=replace(RESULT, plots=[roc])))

    assert 'x-axis "fpr" 0 --> 1' in body and 'y-axis "tpr" 0 --> 1' in body
    assert "_4 points, drawn at 50 even steps of `fpr` (Mermaid spaces values evenly)_" in body
    loss = Plot(id="loss", title="loss", x_label="step", y_label="loss",
                series=[PlotSeries("loss.csv", "step", "loss", x=[1, 2, 3], y=[2.5, 1.2, 0.9])])  # fmt: skip
    assert 'y-axis "loss" 0.9 --> 2.5' in render_card(facts(result=replace(RESULT, plots=[loss])))


def test_data_that_could_not_be_fetched_is_not_called_a_failed_stage() -> None:
    error = "dvc pull: the DVC remote 'team' (gdrive://x) needs the DVC plugin dvc-gdrive: `pip install dvc-gdrive`"
    body = render_card(facts(result=replace(FAILED, error=error, log_tail="", failed_before_stage=True)))

    assert "❌ Training could not start: the DVC data could not be fetched" in body
    assert "No stage ran on commit `3f2e1d0c9b8a`: the data it needs could not be fetched." in body
    assert "Stage `train` failed" not in body and "Fix the stage" not in body
    assert "Stage `train` failed" in render_card(facts(result=FAILED))
