"""Which link a comment gets for a report: one a reader can open, never a path of the bot's host."""

from __future__ import annotations

import pytest

from bot.core import reports as r


@pytest.mark.parametrize(
    ("links", "posted"),
    [
        (
            r.ReportLinks(bot="https://bot/reports/1", mlflow="https://ml/#/x", actions="https://gh#a"),
            "https://bot/reports/1",
        ),
        (r.ReportLinks(mlflow="https://ml/#/x", actions="https://gh#a"), "https://ml/#/x"),
        (r.ReportLinks(actions="https://gh#a"), "https://gh#a"),
        (r.ReportLinks(), ""),
    ],
)
def test_the_bots_page_comes_first_then_mlflow_then_the_actions_run(
    links: r.ReportLinks, posted: str
) -> None:
    assert links.url == posted


def test_only_web_addresses_become_links() -> None:
    assert r.bot_report_url("", "abc") == "" and r.bot_report_url("/srv/bot", "abc") == ""
    assert r.bot_report_url("https://bot.example.com/", "abc") == "https://bot.example.com/reports/abc"
    assert r.mlflow_artifact_url("sqlite:///tmp/mlflow.db", "1", "r", "a.html") == ""
    assert (
        r.mlflow_artifact_url("http://mlflow:5000/", "3", "abc", "drift-m 1.html")
        == "http://mlflow:5000/#/experiments/3/runs/abc/artifacts/drift-m%201.html"
    )
    assert r.actions_artifacts_url("") == ""
    assert r.actions_artifacts_url("https://github.com/o/r/actions/runs/9") == (
        "https://github.com/o/r/actions/runs/9#artifacts"
    )


def test_a_reports_key_is_stable_and_per_kind() -> None:
    key = r.report_id("o/r", "m", "c1", "drift-report")
    assert key == r.report_id("o/r", "m", "c1", "drift-report") and len(key) == 32
    assert key != r.report_id("o/r", "m", "c1", "job-log") != r.report_id("o/r", "m", "c2", "job-log")


def test_the_actions_step_summary_links_the_report_the_issue_links() -> None:
    from bot.core.actions_summary import drift_summary

    check = {
        "model": "m",
        "dataset_drift": True,
        "columns": [],
        "report_path": "/home/runner/work/r/drift-m.html",
    }
    report = {
        "model": "m",
        "action": "record",
        "fired": [],
        "report_url": "https://github.com/o/r/actions/runs/9#artifacts",
    }
    text = drift_summary(check, report).markdown
    assert "[Evidently report](https://github.com/o/r/actions/runs/9#artifacts)" in text
    assert "/home/runner" not in text
    assert "report:" not in drift_summary(check, {**report, "report_url": "/tmp/x.html"}).markdown
