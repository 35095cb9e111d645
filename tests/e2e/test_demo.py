"""The whole loop, end to end, as `mlops-bot demo` runs it: stand-in and bot over real HTTP, real DVC, MLflow,
BentoML and Evidently. One run of the demo is shared by the assertions below."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
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
    # the served model's side first: each window the clients sent, who answered it, what its check read
    assert "## Production: the traffic the demo's clients sent the served champion" in transcript
    for w in summary["traffic"]["windows"]:
        assert (
            f"| {w['name']} | v{w['served_by']} | {w['requests']} | {w['rows']} | {w['moved_rows']} ("
            in transcript
        )


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


def _logged(out: Path, kind: str) -> pd.DataFrame:
    """What the served model's traffic log holds (`predictions` or `labels`), read as the check reads it."""
    files = sorted((out / "state" / "traffic" / kind).rglob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()


def test_the_checks_read_the_rows_the_service_logged_and_no_production_file(
    demo: tuple[dict[str, Any], Path],
) -> None:
    """Issue 15: every row a scheduled check read was answered and logged by the served champion; the
    repository never held a production data file, and its config reads `drift.current: served`."""
    summary, out = demo
    windows = summary["traffic"]["windows"]
    checks = [*summary["drift"]["checks"], *summary["monitoring"]["performance"], summary["retrain"]["check"]]
    assert [c["window"] for c in checks] == [w["name"] for w in windows]
    logged = _logged(out, "predictions")
    # the promotion's one probe request, then the windows: every row the clients sent, logged once
    assert len(logged) == 1 + sum(w["rows"] for w in windows) and logged["request_id"].is_unique
    assert [c["rows_logged"] for c in checks] == [1 + windows[0]["rows"], *(w["rows"] for w in windows[1:])]
    assert [c["rows_read"] for c in checks] == [c["rows_logged"] for c in checks]
    bare = out / "state" / "github" / "repos"
    [git_dir] = [p for p in bare.rglob("*.git") if p.is_dir()]
    ever = subprocess.run(
        ["git", "--git-dir", str(git_dir), "log", "--all", "--name-only", "--format="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert ever and not [f for f in ever if f.endswith((".csv", ".parquet")) or "production" in f], ever
    config = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", "main:.github/mlops-bot.yml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "current: served" in config and "window: since-last-check" in config


def test_shifted_traffic_opens_one_issue_and_a_retrain_pr_with_a_card(
    demo: tuple[dict[str, Any], Path],
) -> None:
    drift = demo[0]["drift"]
    first, second = drift["checks"]
    assert [w["moved_rows"] > w["rows"] / 2 for w in demo[0]["traffic"]["windows"][:2]] == [True, True]
    assert first["issue"] is not None and first["retrain_pr"] is None, "one breach: an issue, no PR yet"
    assert second["issue"] == first["issue"] and second["retrain_pr"] is not None
    assert [c["statuses"]["drift"] for c in (first, second)] == ["drift", "drift"]
    assert all(set(drift["shifted_columns"]) <= set(c["drifted_columns"]) for c in (first, second))
    assert all(c["drift_share"] >= 0.05 for c in (first, second))  # drift_share of the sample's config
    assert drift["drifted_columns_in_issue"] == drift["shifted_columns"]
    assert drift["retrain_card_comment_id"] and drift["retrain_pr"] == second["retrain_pr"]


def test_labels_sent_back_drive_the_performance_result_with_late_and_unknown_counted(
    demo: tuple[dict[str, Any], Path],
) -> None:
    """The champion is scored on the labels that came back through POST /feedback, joined to the logged rows
    by request id: its accuracy is the service's own answers against those labels. Labels for rows an
    earlier check read (late) and for ids never served (unknown) are counted once, and not scored."""
    summary, out = demo
    windows = summary["traffic"]["windows"]
    first, second = summary["drift"]["checks"]
    [third] = summary["monitoring"]["performance"]
    assert first["statuses"]["performance"] == "no-labels" and first["labels"]["joined"] == 0
    sent = [w["labels"] for w in windows[:3]]
    assert second["labels"] == {
        "joined": sent[1]["sent"],
        "late": sent[0]["sent"],
        "unknown": 5,
        "duplicate": 0,
    }
    assert third["labels"] == {"joined": sent[2]["sent"], "late": 0, "unknown": 0, "duplicate": 0}
    for check, labels in ((second, sent[1]), (third, sent[2])):
        assert check["statuses"]["performance"] == "drop"
        assert check["performance"]["accuracy"] == pytest.approx(labels["served_accuracy"], abs=1e-6)
    assert third["performance_state"]["streak"] >= 2 and third["retrain_pr"] == second["retrain_pr"]
    assert third["accuracy_in_issue"]
    stored = _logged(out, "labels")
    assert len(stored) == sum(w["labels"].get("sent", 0) + w["labels"].get("unknown_ids", 0) for w in windows)
    # issue 14: the retrain PR's card scores the champion and the candidate on the served, labelled rows
    production = summary["drift"]["retrain_on_production"]
    assert production["pr"] == second["retrain_pr"]
    assert production["heading"] == (
        f"#### On production data: {sent[0]['sent'] + sent[1]['sent']} labelled rows of `served traffic, last 7d`"
    )
    assert [row.split(" | ")[0] for row in production["rows"]] == ["| `accuracy` ↑", "| `f1` ↑"]


def test_the_merged_retrain_is_served_and_its_traffic_checked(demo: tuple[dict[str, Any], Path]) -> None:
    """merge -> serve: the retrained model is promoted, the demo serves its bento, the traffic after the merge
    is answered by it (the log says so), and the check of that traffic reports the unit error one client
    made (out of range) at once."""
    summary, _ = demo
    retrain = summary["retrain"]
    assert retrain["merged_pr"] == summary["drift"]["retrain_pr"] and retrain["champion"] == "3"
    assert retrain["answered_by"] == {"3": summary["traffic"]["windows"][-1]["rows"]}
    assert retrain["check"]["champion_version"] == "3"
    # the drift and the drop were v1's: v3's first check claims neither, nor the merged PR as open
    assert retrain["check"]["performance_state"] == {"state": "clear", "streak": 0}
    assert (
        retrain["check"]["retrain_pr"] is None and retrain["check"]["title"] == "breast-cancer: data quality"
    )
    assert retrain["check"]["statuses"]["quality"] == "fail"
    assert retrain["quality"]["check_run_conclusion"] == "failure"
    assert "data-quality" in retrain["quality"]["labels"]


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
    # The model card (a Check Run's details), the training log (linked from the card comment), the promotion
    # and rollback logs (their replies, the promotion's Deployment): each kept as a report, each opened above.
    kinds, places = board["report_kinds"], board["report_places"]
    assert {"card", "log", "drift-report"} <= set(kinds.values()), kinds
    assert any(kind == "card" and "check run" in places[link] for link, kind in kinds.items()), places
    assert any(kind == "log" and "deployment" in places[link] for link, kind in kinds.items()), places
    assert sum(kind == "log" and "comment" in places[link] for link, kind in kinds.items()) >= 2, places
    transcript = (out / "transcript.md").read_text()
    assert str(out) not in transcript and "Report: /" not in transcript
