"""The scheduled check end to end: `mlops-bot drift` against a real git + DVC repository and a real sqlite
MLflow registry holding a trained champion, then drift-report's effects on the GitHub stand-in (driven by
the real PyGithub adapter): one monitoring issue per model, the retrain PR, reruns that change nothing."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.cli import main
from bot.core.config import load_config
from bot.core.drift import decode_metadata
from bot.core.markers import drift_marker
from bot.core.models import drift_summary_from_dict
from bot.core.monitoring import CheckFacts, facts_from_dict
from bot.jobs.common import JobEnv
from bot.jobs.drift import HEAD_SHA_TAG, PROMOTED_AT_TAG, champion_facts
from bot.jobs.drift_report import DriftOutcome, report, retrain_branch
from bot.settings import Settings
from bot.standin import StandIn
from tests.support.mlflow_store import sqlite_registry

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
FEATURES = [f"f{i}" for i in range(5)]
MODEL = "clf"
CONFIG = """\
version: 1
models:
  - name: clf
    stage: train
    output: model.pkl
    drift:
      current: prod.csv
      reference: data/train.csv
      drift_share: 0.3
      consecutive: 2
      quality:
        max_missing_share: 0.2
      performance:
        label: target
        consecutive: 2
        metrics:
          - name: accuracy
            tolerance: 0.05
      retrain:
        file: params.yaml
        set:
          data.snapshot: "{date}"
        schedule:
          every: 30d
"""
PARAMS = "# the data the model trains on\ndata:\n  snapshot: '2025-01' # bumped by retrain PRs\n"


def sh(cwd: Path, *cmd: str) -> str:
    exe = str(BIN / cmd[0]) if (BIN / cmd[0]).exists() else cmd[0]
    return subprocess.run([exe, *cmd[1:]], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def rows(n: int, *, seed: int, shift: dict[str, float] | None = None, flip: float = 0.0) -> pd.DataFrame:
    """Features and a label the features explain (a linear rule); `flip` turns that share of labels wrong,
    as when the world the model learned has changed under it."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    data["target"] = (data["f0"] + data["f1"] > 0).astype(int)
    if flip:
        wrong = rng.random(n) < flip
        data.loc[wrong, "target"] = 1 - data.loc[wrong, "target"]
    for col, by in (shift or {}).items():
        data[col] += by
    return data


@dataclass
class Project:
    root: Path
    sha: str
    tracking_uri: str
    accuracy: float


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A DVC repository whose champion (a logistic regression) is registered in a sqlite MLflow store."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("monitor-repo")
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, "dvc", "init", "-q")
    sh(root, "dvc", "config", "core.analytics", "false")
    (root / "data").mkdir()
    (root / ".github").mkdir()
    (root / ".github" / "mlops-bot.yml").write_text(CONFIG)
    (root / "params.yaml").write_text(PARAMS)
    train = rows(1500, seed=1)
    train.to_csv(root / "data" / "train.csv", index=False)
    sh(root, "dvc", "add", "-q", "data/train.csv")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "training data")
    sha = sh(root, "git", "rev-parse", "HEAD")

    model = LogisticRegression().fit(train[FEATURES], train["target"])
    test = rows(500, seed=2)
    accuracy = float((model.predict(test[FEATURES]) == test["target"]).mean())
    joblib.dump(model, root.parent / "model.pkl")
    registry = sqlite_registry(root.parent / "mlflow", base=tmp_path_factory.getbasetemp())
    run = registry.log_training_run(
        experiment="monitor",
        model=MODEL,
        run_name="champion",
        params={},
        metrics={"accuracy": accuracy},
        tags={HEAD_SHA_TAG: sha},
        artifacts={},
        model_file=root.parent / "model.pkl",
        example_data=root / "data" / "train.csv",
    )
    version = registry.register(MODEL, run, {PROMOTED_AT_TAG: "2025-01-01T00:00:00+00:00"})
    registry.set_alias(MODEL, "champion", version.version)
    return Project(root, sha, registry.tracking_uri, accuracy)


def check(
    project: Project,
    batch: pd.DataFrame | str,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    now: str = "2025-01-10T06:00:00Z",
) -> tuple[dict[str, Any], str]:
    """`mlops-bot drift` on one production batch; (the JSON summary, what it printed)."""
    if isinstance(batch, str):
        (project.root / "prod.csv").write_text(batch)
    else:
        batch.to_csv(project.root / "prod.csv", index=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", project.tracking_uri)
    out.mkdir(parents=True, exist_ok=True)
    code = main(
        [
            "drift",
            "--repo-dir",
            str(project.root),
            "--out",
            str(out),
            "--json",
            str(out / "s.json"),
            "--now",
            now,
        ]
    )
    assert code == 0
    return json.loads((out / "s.json").read_text()), ""


def facts_of(summary: dict[str, Any]) -> CheckFacts:
    return facts_from_dict(summary, drift_summary_from_dict(summary))


# -- mlops-bot drift: the facts ------------------------------------------------------------------------------


def test_champion_facts_come_from_the_registry(project: Project) -> None:
    registry = MlflowRegistry(project.tracking_uri)
    facts = champion_facts(registry, MODEL)
    assert facts is not None and facts.version == "1"
    assert (
        facts.promoted_at == "2025-01-01T00:00:00+00:00"
        and facts.promoted_at_source == f"tag {PROMOTED_AT_TAG}"
    )
    assert facts.metrics["accuracy"] == pytest.approx(project.accuracy)
    registry.client.delete_model_version_tag(MODEL, "1", PROMOTED_AT_TAG)
    try:
        created = champion_facts(registry, MODEL)
        assert created is not None and created.promoted_at_source == "version created"
        age = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(created.promoted_at)
        assert dt.timedelta(0) <= age < dt.timedelta(hours=1)
    finally:
        registry.set_version_tag(MODEL, "1", PROMOTED_AT_TAG, "2025-01-01T00:00:00+00:00")
    assert champion_facts(registry, "nobody") is None


def test_labelled_data_like_training_passes_every_check(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary, _ = check(project, rows(600, seed=3), tmp_path, monkeypatch)
    printed = capsys.readouterr().out
    assert summary["dataset_drift"] is False  # a false positive on one column of five is below drift_share
    assert [c["column"] for c in summary["columns"]] == FEATURES  # the label is not compared for drift
    perf = summary["performance"]
    assert perf["status"] == "scored" and perf["labelled_rows"] == 600
    (accuracy,) = perf["scores"]
    assert accuracy["value"] == pytest.approx(project.accuracy, abs=0.03)
    assert summary["champion"]["version"] == "1" and summary["check_id"]
    assert (
        "  quality: pass" in printed and "  performance: pass" in printed and "  schedule: not-due" in printed
    )


def test_flipped_labels_score_the_champion_lower(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary, _ = check(project, rows(600, seed=4, flip=0.3), tmp_path, monkeypatch)
    (accuracy,) = summary["performance"]["scores"]
    assert accuracy["value"] < project.accuracy - 0.2  # ~30 % of the answers are now wrong
    assert summary["dataset_drift"] is False  # the inputs did not move: only performance tells
    assert "  performance: drop: accuracy" in capsys.readouterr().out


def test_a_batch_without_labels_says_so(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary, _ = check(project, rows(600, seed=5).drop(columns="target"), tmp_path, monkeypatch)
    assert summary["performance"]["status"] == "no-labels"
    assert summary["performance"]["note"] == "the production data has no 'target' column yet"


def test_a_broken_column_type_short_circuits_drift(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = rows(600, seed=6, shift=dict.fromkeys(FEATURES, 3.0)).astype({"f2": object})
    batch.loc[::3, "f2"] = "broken"
    summary, _ = check(project, batch, tmp_path, monkeypatch)
    printed = capsys.readouterr().out
    assert summary["drift_skipped"].startswith(
        "the data's schema is broken: column 'f2' holds text values, e.g. 'broken',"
    )
    assert summary["dataset_drift"] is False and summary["columns"] == []  # every column moved, yet no drift
    assert summary["performance"]["status"] == "unavailable"
    assert printed.startswith("clf: drift not judged: the data's schema is broken")
    assert not (tmp_path / "drift-clf.html").exists()


# -- drift-report: the effects on GitHub ----------------------------------------------------------------------


APP_ID = 4242


@pytest.fixture(scope="module")
def app_key() -> tuple[str, str]:
    """(private, public) PEM: check runs need a GitHub App, as on github.com."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory, app_key: tuple[str, str]) -> Iterator[StandIn]:
    with StandIn(tmp_path_factory.mktemp("gh")) as gh:
        gh.register_app(APP_ID, app_key[1])
        yield gh


_repos = iter(range(1, 1000))


@dataclass
class GitHub:
    standin: StandIn
    full_name: str
    env: JobEnv

    def issues(self) -> list[Any]:
        return [i for i in self.standin.issues(self.full_name) if drift_marker(MODEL) in (i.body or "")]

    def retrain_pulls(self) -> list[Any]:
        """The issue halves (title, body) of the open retrain pull requests."""
        numbers = {
            p.number for p in self.standin.pulls(self.full_name) if p.head_ref == retrain_branch(MODEL)
        }
        halves = self.standin.repo(self.full_name).issues
        return [halves[n] for n in sorted(numbers) if halves[n].state == "open"]

    def report(self, summary: dict[str, Any], **kw: Any) -> DriftOutcome:
        spec = self.env.config.model(MODEL)
        assert spec is not None
        return report(self.env, spec, facts_of(summary), head_sha="main", **kw)


@pytest.fixture
def github(standin: StandIn, tmp_path: Path, app_key: tuple[str, str]) -> GitHub:
    n = next(_repos)
    owner = f"team{n}"
    standin.create_user(owner)
    source = tmp_path / "src"
    (source / ".github").mkdir(parents=True)
    (source / ".github" / "mlops-bot.yml").write_text(CONFIG)
    (source / "params.yaml").write_text(PARAMS)
    full_name = f"{owner}/model"
    standin.create_repo(full_name, source=source)
    standin.install_app(full_name)
    settings = Settings(
        MLOPS_BOT_GITHUB_BASE_URL=standin.base_url,
        app_id=APP_ID,
        private_key=app_key[0],
        github_throttle=False,
    )
    return GitHub(standin, full_name, JobEnv(settings=settings, repo=full_name))


def test_performance_decay_opens_one_issue_then_one_retrain_pr_and_reruns_change_nothing(
    project: Project, github: GitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = check(project, rows(600, seed=7, flip=0.3), tmp_path / "1", monkeypatch)
    one = github.report(first)
    assert one.fired == [] and one.retrain_pr is None and one.issue is not None
    assert one.verdicts["performance"]["status"] == "drop" and one.conclusion == "neutral"

    second, _ = check(
        project, rows(600, seed=8, flip=0.3), tmp_path / "2", monkeypatch, now="2025-01-11T06:00:00Z"
    )
    two = github.report(second)
    assert two.fired == ["performance"] and two.retrain and two.issue == one.issue
    assert two.conclusion == "failure"
    (issue,) = github.issues()
    assert issue.title == "clf: performance drop" and "performance" in issue.labels
    assert "accuracy" in issue.body and "vs champion" in issue.body
    (pull,) = github.retrain_pulls()
    assert pull.number == two.retrain_pr and f"#{issue.number}" in pull.body
    assert "performance dropped for 2 checks in a row" in pull.body
    params = github.env.gh.read_file("params.yaml", ref=retrain_branch(MODEL))
    assert params == PARAMS.replace("'2025-01'", "'2025-01-11T060000Z'")  # the check's time; comments kept

    def state() -> tuple[Any, ...]:
        (i,) = github.issues()
        branch = github.standin.repo(github.full_name).git
        return (
            i.title,
            i.body,
            [c.body for c in github.standin.comments(github.full_name, i.number)],
            [(p.number, p.title, p.body) for p in github.retrain_pulls()],
            branch.branch_sha(retrain_branch(MODEL)),
        )

    before = state()
    again = github.report(second)
    assert again.retrain_pr == two.retrain_pr and state() == before
    assert len(before[2]) == 2  # one comment per check


def test_a_schema_break_is_reported_at_once_with_no_retrain_pr(
    project: Project, github: GitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = rows(600, seed=9).astype({"f2": object})
    batch.loc[::3, "f2"] = "broken"
    summary, _ = check(project, batch, tmp_path, monkeypatch)
    outcome = github.report(summary)
    assert (
        outcome.verdict == "broken-data" and outcome.fired == ["quality"] and outcome.conclusion == "failure"
    )
    (issue,) = github.issues()
    assert issue.title == "clf: data quality" and "data-quality" in issue.labels
    assert "column 'f2' holds text values" in issue.body and "drift was not judged" in issue.body
    assert github.retrain_pulls() == []
    (run,) = [r for r in github.standin.check_runs(github.full_name) if r.name == "mlops-bot / drift / clf"]
    assert run.conclusion == "failure"


def test_the_schedule_opens_a_retrain_pr_without_drift_when_due_only(
    project: Project, github: GitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = rows(600, seed=10)
    not_due, _ = check(project, quiet, tmp_path / "early", monkeypatch, now="2025-01-30T23:00:00Z")
    early = github.report(not_due)
    assert early.verdicts["schedule"]["status"] == "not-due" and early.issue is None  # quiet data: no issue
    assert github.issues() == [] and github.retrain_pulls() == []

    due, _ = check(project, quiet, tmp_path / "late", monkeypatch, now="2025-02-01T06:00:00Z")
    late = github.report(due)
    assert late.fired == ["schedule"] and late.retrain and late.conclusion == "neutral"
    (pull,) = github.retrain_pulls()
    assert pull.title == "Retrain clf: scheduled"
    assert "scheduled retrain: retrain was due on 2025-01-31 00:00 UTC" in pull.body
    (issue,) = github.issues()
    assert issue.title == "clf: scheduled retrain"


def test_one_issue_holds_every_trigger_and_the_drift_reply_gives_all_verdicts(
    project: Project, github: GitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shifted = rows(600, seed=11, shift={"f3": 2.0, "f4": 2.0}, flip=0.3)
    batches = [
        shifted,
        "f0,f1,f3,f4,target\n" + "0,0,0,0,1\n" * 40,  # f2 is gone: schema break
        rows(600, seed=12, shift={"f3": 2.0, "f4": 2.0}).drop(columns="target"),
        rows(600, seed=13, shift={"f3": 2.0, "f4": 2.0}, flip=0.3),
    ]
    github.standin.create_user("asker")
    asked = github.standin.create_issue(
        github.full_name, title="why so slow?", body=None, author="asker"
    ).number
    outcomes = []
    for n, batch in enumerate(batches):
        summary, _ = check(project, batch, tmp_path / str(n), monkeypatch, now=f"2025-01-{12 + n}T06:00:00Z")
        # the last check answers a `/drift` asked on another issue
        outcomes.append(github.report(summary, reply_to=asked if n == len(batches) - 1 else None))
    assert [o.verdicts["quality"]["status"] for o in outcomes] == ["pass", "schema-break", "pass", "pass"]
    assert [o.verdicts["drift"]["status"] for o in outcomes] == ["drift", "skipped", "drift", "drift"]
    assert [o.verdicts["performance"]["status"] for o in outcomes] == [
        "drop",
        "unavailable",
        "no-labels",
        "drop",
    ]
    assert [o.fired for o in outcomes] == [[], ["quality"], ["drift"], ["drift", "performance"]]
    (issue,) = github.issues()  # one issue for the model, whatever fired
    assert {o.issue for o in outcomes} == {issue.number}
    assert issue.title == "clf: data drift, performance drop"
    assert {"drift", "performance", "data-quality", "monitoring"} <= set(issue.labels)
    meta = decode_metadata(issue.body)
    assert [e["statuses"]["drift"] for e in meta["log"]] == ["drift", "skipped", "drift", "drift"]
    assert len(github.retrain_pulls()) == 1
    reply = github.standin.comments(github.full_name, asked)
    assert len(reply) == 1
    for words in ("Data quality", "Data drift", "Performance", "Schedule", f"#{issue.number}"):
        assert words in reply[0].body


def test_old_summaries_still_report_drift(github: GitHub) -> None:
    """A summary written before the other triggers existed (drift keys only) is judged as drift alone."""
    columns = [{"column": "f0", "score": 0.9, "method": "ks", "threshold": 0.05, "drifted": True}]
    legacy = {
        "model": MODEL,
        "dataset_drift": True,
        "share_drifted": 1.0,
        "drift_share": 0.3,
        "columns": columns,
        "reference_rows": 10,
        "current_rows": 10,
        "reference_sampled": 10,
        "current_sampled": 10,
        "report_path": "",
        "drifted_columns": ["f0"],
    }
    first = github.report(legacy, now=dt.datetime(2025, 1, 2, tzinfo=dt.UTC))
    second = github.report(legacy, now=dt.datetime(2025, 1, 3, tzinfo=dt.UTC))
    assert (first.retrain_pr, second.fired) == (None, ["drift"]) and second.retrain_pr is not None


def test_config_is_validated_with_the_line(tmp_path: Path) -> None:
    bad = CONFIG.replace("every: 30d", "every: monthly")
    with pytest.raises(Exception) as err:
        load_config(bad)
    line = CONFIG.splitlines().index("          every: 30d") + 1
    assert f"line {line}: models.0.drift.retrain.schedule.every" in str(err.value)


def test_the_drift_report_command_reads_the_summary_and_writes_the_verdicts(
    project: Project,
    github: GitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    app_key: tuple[str, str],
) -> None:
    batch = rows(600, seed=14).astype({"f4": object})
    batch.loc[::2, "f4"] = "broken"
    check(project, batch, tmp_path, monkeypatch)
    for name, value in {
        "GITHUB_REPOSITORY": github.full_name,
        "MLOPS_BOT_GITHUB_BASE_URL": github.standin.base_url,
        "MLOPS_BOT_APP_ID": str(APP_ID),
        "MLOPS_BOT_PRIVATE_KEY": app_key[0],
        "MLOPS_BOT_GITHUB_THROTTLE": "false",
    }.items():
        monkeypatch.setenv(name, value)
    args = [
        "drift-report",
        "--summary",
        str(tmp_path / "s.json"),
        "--sha",
        "main",
        "--json",
        str(tmp_path / "o.json"),
    ]
    assert main(args) == 0
    assert "clf: broken-data, action none" in capsys.readouterr().out
    outcome = json.loads((tmp_path / "o.json").read_text())
    assert outcome["fired"] == ["quality"] and outcome["verdicts"]["drift"]["status"] == "skipped"
    assert outcome["verdicts"]["quality"]["text"].startswith("column 'f4' holds text values")
    assert outcome["issue"] == github.issues()[0].number


# -- reports a reader can open (issue 13) --------------------------------------------------------------------


def test_a_checks_report_is_kept_and_linked_by_a_url_a_reader_can_open(
    project: Project, github: GitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue, its comment and the check run link the bot's `/reports/<id>` page, which serves the very
    Evidently page the check wrote; the report and the check's log are also artifacts of an MLflow
    monitoring run; the check lands in the history the dashboard reads; no text names a path of this host."""
    from fastapi.testclient import TestClient

    from bot.adapters.mlflow.monitoring import MONITORED_MODEL_TAG
    from bot.adapters.mlflow.runs import MlflowRuns
    from bot.adapters.store import Store
    from bot.app import create_app
    from bot.jobs.drift_keep import ReportKeeper

    summary, _ = check(project, rows(600, seed=21, shift={"f3": 2.0, "f4": 2.0}), tmp_path / "c", monkeypatch)
    log_path = tmp_path / "c" / "step0-drift.log"
    log_path.write_text(f"checking {tmp_path}/c/prod.csv\nclf: DATASET DRIFT\n")
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    keeper = ReportKeeper(
        github.full_name,
        store=store,
        public_url="https://bot.example.com/",
        runs=MlflowRuns(project.tracking_uri, repository=github.full_name),
    )
    outcome = github.report(summary, keeper=keeper, log_path=log_path)

    assert outcome.report_url.startswith("https://bot.example.com/reports/")
    (issue,) = github.issues()
    comments = github.standin.comments(github.full_name, issue.number)
    check_runs = github.standin.check_runs(github.full_name)
    posted = [issue.body, *(c.body for c in comments)]
    assert all(outcome.report_url in body for body in posted)
    for body in posted:
        assert str(tmp_path) not in body and "/tmp/" not in body and "Report: " not in body

    client = TestClient(
        create_app(Settings(webhook_secret="s", dashboard="off"), store=store, start_worker=False)
    )
    page = client.get(outcome.report_url.removeprefix("https://bot.example.com"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.content == (tmp_path / "c" / f"drift-{MODEL}.html").read_bytes()
    assert page.headers["content-security-policy"].startswith("sandbox")
    assert client.get("/reports/" + "0" * 32).status_code == 404

    runs = MlflowRuns(project.tracking_uri).client
    (run,) = runs.search_runs(
        [runs.get_experiment_by_name("mlops-bot-monitoring").experiment_id],
        filter_string=f"tags.`{MONITORED_MODEL_TAG}` = '{MODEL}' AND tags.`mlops_bot.check_id` = '{summary['check_id']}'",
    )
    artifacts = {a.path for a in runs.list_artifacts(run.info.run_id)}
    assert artifacts == {f"drift-{MODEL}.html", f"check-{MODEL}.log"}
    assert run.data.metrics["drift_share"] == pytest.approx(summary["share_drifted"])
    logged = Path(runs.download_artifacts(run.info.run_id, f"check-{MODEL}.log", str(tmp_path / "dl")))
    assert str(tmp_path) not in logged.read_text() and "DATASET DRIFT" in logged.read_text()

    (record,) = store.checks(github.full_name, MODEL)
    assert record.drift_share == pytest.approx(summary["share_drifted"]) and record.issue == issue.number
    assert list(record.drifted_columns) == summary["drifted_columns"] and record.champion_version == "1"
    assert record.schedule.startswith("next retrain due on 2025-01-31")
    assert check_runs and all(outcome.report_url in c.output.get("summary", "") for c in check_runs)
    # Reported again, the check keeps one report, one run and one history row.
    github.report(summary, keeper=keeper, log_path=log_path)
    assert len(store.checks(github.full_name, MODEL)) == 1
    assert len(runs.search_runs([run.info.experiment_id])) == 1
    store.close()


def test_under_actions_alone_the_link_is_the_runs_uploaded_artifacts(
    github: GitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    columns = [{"column": "f0", "score": 0.9, "method": "ks", "threshold": 0.05, "drifted": True}]
    summary = {
        "model": MODEL,
        "dataset_drift": True,
        "share_drifted": 1.0,
        "drift_share": 0.3,
        "columns": columns,
        "reference_rows": 10,
        "current_rows": 10,
        "reference_sampled": 10,
        "current_sampled": 10,
        "report_path": "/home/runner/work/model/model/drift-report/drift-clf.html",  # the runner's disk
        "drifted_columns": ["f0"],
    }
    for name, value in {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": github.full_name,
        "GITHUB_RUN_ID": "77",
    }.items():
        monkeypatch.setenv(name, value)
    outcome = github.report(summary)
    assert outcome.report_url == f"https://github.com/{github.full_name}/actions/runs/77#artifacts"
    (issue,) = github.issues()
    assert outcome.report_url in issue.body and "/home/runner" not in issue.body
