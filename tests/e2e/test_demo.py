"""The whole loop, end to end, as `mlops-bot demo` runs it: stand-in and bot over real HTTP, real DVC, MLflow,
BentoML and Evidently. One run of the demo is shared by the assertions below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.demo import run_demo

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    summary = run_demo(out, lines.append)
    assert lines, "the demo shows progress"
    return summary, out


def test_outputs_are_written(demo: tuple[dict[str, Any], Path]) -> None:
    summary, out = demo
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary, default=str))
    transcript = (out / "transcript.md").read_text()
    assert "/help" in transcript and "mlops-bot[bot]" in transcript


def test_help_is_answered_and_a_reader_is_refused(demo: tuple[dict[str, Any], Path]) -> None:
    summary, _ = demo
    assert summary["help"]["comment_id"] and summary["help"]["refusal_comment_id"]


def test_every_delivery_was_processed(demo: tuple[dict[str, Any], Path]) -> None:
    summary, _ = demo
    statuses = {d["status"] for d in summary["deliveries"]}
    assert statuses <= {"done"}, summary["deliveries"]
    events = {d["event"] for d in summary["deliveries"]}
    assert {"pull_request", "issue_comment", "mlops-bot"} <= events


def test_training_posts_one_card_edited_in_place(demo: tuple[dict[str, Any], Path]) -> None:
    train = demo[0]["train"]
    assert train["mlflow_run_id"]
    assert train["card_edited_in_place"] is True
    assert train["check_run_conclusion"] in {"success", "neutral"}


def test_merge_promotes_builds_a_bento_deploys_and_rolls_back(demo: tuple[dict[str, Any], Path]) -> None:
    promote = demo[0]["promote"]
    assert promote["champion_before"] is None and promote["version"] == "1"
    assert promote["bento_tag"] and promote["bento_prediction"] in ([0], [1])
    assert promote["deployment_status"] == "success"
    assert promote["aliases_after_second_merge"] == {"champion": "2", "previous": "1"}
    assert promote["rollback"]["champion"] == "1" and promote["rollback"]["deployment_status"] == "success"


def test_persistent_drift_opens_one_issue_and_a_retrain_pr_with_a_card(
    demo: tuple[dict[str, Any], Path],
) -> None:
    drift = demo[0]["drift"]
    first, second = drift["checks"]
    assert first["issue"] is not None and first["retrain_pr"] is None, "one breach: an issue, no PR yet"
    assert second["issue"] == first["issue"] and second["retrain_pr"] is not None
    assert drift["drifted_columns_in_issue"] == drift["shifted_columns"]
    assert drift["retrain_card_comment_id"]


def test_a_performance_drop_and_a_schema_break_reach_the_monitoring_issue(
    demo: tuple[dict[str, Any], Path],
) -> None:
    monitoring = demo[0]["monitoring"]
    first, second = monitoring["performance"]
    assert first["statuses"]["performance"] != "pass" and second["accuracy_in_issue"]
    assert second["performance"]["streak"] >= 2 and second["retrain_pr"] is not None
    # issue 14: the retrain PR's card scores the champion and the candidate on the labelled rows of main
    production = monitoring["retrain_on_production"]
    assert production["pr"] == second["retrain_pr"]
    assert production["heading"].startswith(
        "#### On production data: 400 labelled rows of `data/production.csv at "
    )
    assert [row.split(" | ")[0] for row in production["rows"]] == ["| `accuracy` ↑", "| `f1` ↑"]
    quality = monitoring["quality"]
    assert quality["statuses"]["quality"] not in ("pass", "off")
    assert quality["statuses"]["drift"] == "skipped", "drift on broken data is not reported as drift"
    assert quality["check_run_conclusion"] == "failure"
    assert "data-quality" in quality["labels"]


def test_the_bot_posts_no_local_path_and_every_link_to_its_pages_opens_for_a_reader(
    demo: tuple[dict[str, Any], Path],
) -> None:
    """Issue 13: every body the demo leaves on GitHub (issues, PRs, comments, check runs, Deployments) is
    read back; none names a path of the machine that ran the jobs, and every link to the bot's own pages (the
    drift reports) answers 200 to the reader signed in through the dashboard's GitHub sign-in."""
    summary, out = demo
    board = summary["dashboard"]
    assert board["texts"] > 10 and board["local_paths"] == []
    assert board["home_status"] == 200 and board["signed_in_as"] == "bob"
    assert board["model_status"] == 200 and board["model_page_champion"]  # the dashboard shows the model
    reports = [link for link in board["links"] if "/reports/" in link]
    assert reports, board["links"]
    assert all(status == 200 for status in board["links"].values()), board["links"]
    transcript = (out / "transcript.md").read_text()
    assert str(out) not in transcript and "Report: /" not in transcript
