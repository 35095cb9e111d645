"""The actions' scripts run for real (bash and python, as the runner runs them) against a stand-in
`mlops-bot` that records how it was called: the flags each input produces, the env each step gets, and
the outputs each summary step writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.actions.action_files import REPO_ROOT, load_yaml

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

# `actions-summary` is the real one: the outputs and the summary are what the actions promise.
FAKE_CLI = """\
#!{python}
import json, os, sys
watched = ("MLFLOW_TRACKING_URI", "GITHUB_TOKEN")
call = {{"argv": sys.argv[1:], "env": {{k: os.environ.get(k) for k in watched}}}}
with open(os.environ["FAKE_CALLS"], "a") as calls:
    calls.write(json.dumps(call) + "\\n")
if sys.argv[1] == "actions-summary":
    from bot.cli import main
    sys.exit(main(sys.argv[1:]))
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


def evaluate(expression: str, inputs: dict[str, str], steps: dict[str, str]) -> str:
    """The few expressions the actions' `env:` and `working-directory:` use: `inputs.x`,
    `steps.id.outputs.y`, a quoted literal, joined by `||` (the first non-empty wins)."""
    for operand in (part.strip() for part in expression.split("||")):
        if operand.startswith("inputs."):
            value = inputs[operand.removeprefix("inputs.")]
        elif operand.startswith("steps."):
            value = steps.get(operand.removeprefix("steps.").replace(".outputs.", "."), "")
        elif operand.startswith("'") and operand.endswith("'"):
            value = operand[1:-1]
        else:
            raise AssertionError(f"the step runner cannot evaluate {operand!r}")
        if value:
            return value
    return ""


@dataclass
class StepRun:
    returncode: int
    calls: list[dict[str, Any]]
    outputs: dict[str, str]
    stdout: str
    summary: str


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


class Runner:
    """Runs one step of an action the way the runner would, with only `${{ inputs.* }}` evaluated."""

    def __init__(self, root: Path) -> None:
        self.temp = root / "runner-temp"
        self.workspace = root / "workspace"
        self.bin = root / "bin"
        for folder in (self.temp, self.workspace, self.bin):
            folder.mkdir()
        cli = self.bin / "mlops-bot"
        cli.write_text(FAKE_CLI.format(python=sys.executable))
        cli.chmod(0o755)

    def run(
        self,
        action: str,
        step_name: str,
        inputs: dict[str, str],
        *,
        event: str = "pull_request",
        exit_code: int = 0,
        steps: dict[str, str] | None = None,
        environ: dict[str, str] | None = None,
    ) -> StepRun:
        """`steps` holds earlier steps' outputs as `id.name`."""
        doc = load_yaml(REPO_ROOT / "actions" / action / "action.yml")
        values = {name: str(spec["default"]) for name, spec in doc["inputs"].items()} | inputs
        step = next(s for s in doc["runs"]["steps"] if s.get("name") == step_name)
        calls_file, output_file = self.temp / "calls.jsonl", self.temp / "github_output"
        summary_file = self.temp / "step_summary.md"
        for stale in (calls_file, output_file, summary_file):
            stale.unlink(missing_ok=True)
        env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.temp),
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "FAKE_CALLS": str(calls_file),
            "FAKE_EXIT": str(exit_code),
        }
        env |= environ or {}

        def expand(text: str) -> str:
            return _EXPRESSION.sub(lambda m: evaluate(m[1], values, steps or {}), text)

        env |= {key: expand(str(value)) for key, value in step.get("env", {}).items()}
        script = self.temp / "step"
        script.write_text(step["run"])
        command = (
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
            if step["shell"] == "bash"
            else [sys.executable, str(script)]
        )
        workdir = self.workspace / expand(step.get("working-directory", "."))
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
        calls = (
            [json.loads(line) for line in calls_file.read_text().splitlines()] if calls_file.exists() else []
        )
        outputs = dict(
            line.split("=", 1)
            for line in (output_file.read_text().splitlines() if output_file.exists() else [])
        )
        summary = summary_file.read_text() if summary_file.exists() else ""
        return StepRun(done.returncode, calls, outputs, done.stdout + done.stderr, summary)

    def write(self, name: str, data: Any) -> Path:
        path = self.temp / name
        path.write_text(json.dumps(data))
        return path


@pytest.mark.parametrize(
    ("inputs", "event", "expected_argv"),
    [
        ({}, "pull_request", ["--json", "{temp}/train.json"]),
        (
            {"model": "churn", "pr-number": "7"},
            "workflow_dispatch",
            [
                "--json",
                "{temp}/train.json",
                "--model",
                "churn",
                "--pr",
                "7",
            ],
        ),
        (
            {"commit-lock": "true", "head-ref": "feature/x", "pr-number": "7"},
            "pull_request",
            [
                "--json",
                "{temp}/train.json",
                "--commit-lock",
                "feature/x",
            ],
        ),
        # A hostile value stays one argument: inputs never become shell code.
        (
            {"model": '"; touch pwned; echo "'},
            "pull_request",
            [
                "--json",
                "{temp}/train.json",
                "--model",
                '"; touch pwned; echo "',
            ],
        ),
    ],
    ids=["defaults", "dispatch-names-the-pr", "lock-commit", "hostile-model-name"],
)
def test_train_flags(runner: Runner, inputs: dict[str, str], event: str, expected_argv: list[str]) -> None:
    result = runner.run("train", "Train", inputs, event=event)
    assert result.returncode == 0, result.stdout
    assert result.calls[0]["argv"] == ["train", *(a.format(temp=runner.temp) for a in expected_argv)]
    assert not (runner.workspace / "pwned").exists()


def test_train_keeps_the_jobs_tracking_uri_unless_given(runner: Runner) -> None:
    assert runner.run("train", "Train", {}).calls[0]["env"]["MLFLOW_TRACKING_URI"] is None
    given = runner.run("train", "Train", {"mlflow-tracking-uri": "http://127.0.0.1:5000"})
    assert given.calls[0]["env"]["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"


def test_train_refuses_a_lock_commit_without_a_branch(runner: Runner) -> None:
    result = runner.run("train", "Train", {"commit-lock": "true", "head-ref": ""})
    assert result.returncode == 1 and result.calls == []
    assert "head-ref is empty" in result.stdout


def test_train_failure_fails_the_step(runner: Runner) -> None:
    assert runner.run("train", "Train", {}, exit_code=1).returncode == 1


def test_card_is_posted_from_the_results_with_the_token(runner: Runner) -> None:
    runner.write("train.json", [])
    result = runner.run("train", "Post the model card", {"pr-number": "12", "github-token": "t0ken"})
    assert result.returncode == 0, result.stdout
    assert result.calls[0]["argv"] == ["card", "--results", f"{runner.temp}/train.json", "--pr", "12"]
    assert result.calls[0]["env"]["GITHUB_TOKEN"] == "t0ken"
    assert "t0ken" not in result.stdout


def test_no_card_when_training_wrote_nothing(runner: Runner) -> None:
    result = runner.run("train", "Post the model card", {"pr-number": "12"})
    assert result.returncode == 0 and result.calls == []
    assert "no training results" in result.stdout


def test_card_needs_a_pr_number_outside_pull_request_events(runner: Runner) -> None:
    runner.write("train.json", [])
    result = runner.run("train", "Post the model card", {"pr-number": ""}, event="workflow_dispatch")
    assert result.returncode == 1 and "no pull request number" in result.stdout


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        (
            [{"model": "a", "ok": True, "reused": False, "run": {"run_id": "r1", "url": "http://m/r1"}}],
            {
                "run-id": "r1",
                "run-ids": "r1",
                "run-url": "http://m/r1",
                "conclusion": "success",
                "reused": "false",
            },
        ),
        (
            [
                {"model": "a", "ok": True, "reused": True, "run": {"run_id": "r1"}},
                {"model": "b", "ok": False, "reused": False, "run": None},
            ],
            {"run-id": "r1", "run-ids": "r1", "run-url": "", "conclusion": "failure", "reused": "false"},
        ),
        (
            [{"model": "a", "ok": True, "reused": True, "run": {"run_id": "r1"}}],
            {"run-id": "r1", "run-ids": "r1", "run-url": "", "conclusion": "success", "reused": "true"},
        ),
        (
            None,
            {
                "run-id": "",
                "run-ids": "",
                "run-url": "",
                "conclusion": "failure",
                "reused": "false",
                "results": "",
            },
        ),
    ],
    ids=["trained", "one-model-failed", "reused", "no-results"],
)
def test_train_outputs(runner: Runner, results: Any, expected: dict[str, str]) -> None:
    if results is not None:
        expected = expected | {"results": str(runner.write("train.json", results))}
    result = runner.run("train", "Summarise", {}, steps={"card.card-url": "http://gh/pull/5#issuecomment-7"})
    assert result.returncode == 0, result.stdout
    assert result.outputs == expected | {"card-url": "http://gh/pull/5#issuecomment-7"}
    assert result.summary.startswith("## mlops-bot train\n")
    assert "Model card: http://gh/pull/5#issuecomment-7" in result.summary


def test_without_a_tracking_uri_the_train_action_warns_and_keeps_the_store(runner: Runner) -> None:
    result = runner.run("train", "Choose the MLflow store", {})
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("::warning title=mlops-bot train::no MLFLOW_TRACKING_URI: ")
    store = runner.temp / "mlops-bot-mlflow"
    assert result.outputs == {"mlflow-store": str(store), "tracking-uri": f"sqlite:///{store}/mlflow.db"}
    train = runner.run("train", "Train", {}, steps={"store.tracking-uri": result.outputs["tracking-uri"]})
    assert train.calls[0]["env"]["MLFLOW_TRACKING_URI"] == f"sqlite:///{store}/mlflow.db"


@pytest.mark.parametrize(
    ("inputs", "environ"),
    [
        ({"mlflow-tracking-uri": "http://mlflow:5000"}, {}),
        ({}, {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}),
    ],
    ids=["input", "job-env"],
)
def test_with_a_tracking_uri_no_warning(
    runner: Runner, inputs: dict[str, str], environ: dict[str, str]
) -> None:
    result = runner.run("train", "Choose the MLflow store", inputs, environ=environ)
    assert result.returncode == 0 and result.outputs == {} and "::warning" not in result.stdout


def test_the_projects_requirements_are_installed_for_the_stages(runner: Runner) -> None:
    skipped = runner.run("train", "Install the project's requirements", {})
    assert skipped.returncode == 0 and "no requirements.txt" in skipped.stdout
    (runner.workspace / "requirements.txt").write_text("# nothing to install\n")
    installed = runner.run("train", "Install the project's requirements", {})
    assert installed.returncode == 0, installed.stdout
    assert installed.stdout.splitlines()[0] == "::group::Install requirements.txt (for the stages)"
    missing = runner.run("train", "Install the project's requirements", {"requirements": "req/train.txt"})
    assert missing.returncode == 1
    assert "::error title=mlops-bot train::requirements: no such file req/train.txt" in missing.stdout


def test_no_run_cache_to_fetch_without_a_dvc_remote(runner: Runner) -> None:
    result = runner.run("train", "Fetch DVC's run cache", {})
    assert result.returncode == 0, result.stdout
    assert "no default DVC remote" in result.stdout


def test_promote_flags(runner: Runner) -> None:
    result = runner.run("promote", "Promote", {"sha": "abc123", "dry-run": "true", "model": "m"})
    assert result.returncode == 0, result.stdout
    assert result.calls[0]["argv"] == [
        "promote",
        *("--sha", "abc123", "--json", f"{runner.temp}/promote.json"),
        *("--model", "m", "--dry-run"),
    ]
    assert "--dry-run" not in runner.run("promote", "Promote", {"sha": "abc123"}).calls[0]["argv"]


@pytest.mark.parametrize(
    ("statuses", "conclusion"),
    [
        (["promoted"], "promoted"),
        (["already"], "promoted"),
        (["planned"], "planned"),
        (["promoted", "refused"], "refused"),
        (["no-candidate"], "refused"),
        (["promoted", "failed"], "failure"),
        ([], "failure"),
    ],
)
def test_promote_conclusion_is_the_worst_over_models(
    runner: Runner, statuses: list[str], conclusion: str
) -> None:
    outcomes = [
        {"model": f"m{i}", "status": s, "version": str(i + 3), "bento_tag": "svc:1"}
        for i, s in enumerate(statuses)
    ]
    runner.write("promote.json", outcomes)
    outputs = runner.run("promote", "Summarise", {}).outputs
    assert outputs["conclusion"] == conclusion
    if statuses:
        assert outputs["bento-tag"] == "svc:1"


def test_promote_outputs_and_summary(runner: Runner) -> None:
    runner.write(
        "promote.json",
        [
            {
                "model": "bc",
                "status": "promoted",
                "version": "4",
                "previous": "3",
                "run_id": "r",
                "deployment_id": 9,
            }
        ],
    )
    result = runner.run(
        "promote",
        "Summarise",
        {},
        environ={"GITHUB_API_URL": "http://api.example", "GITHUB_REPOSITORY": "acme/bc"},
    )
    assert result.returncode == 0, result.stdout
    assert result.outputs["model-version"] == "4" and result.outputs["version"] == "4"
    assert result.outputs["deployment-url"] == "http://api.example/repos/acme/bc/deployments/9"
    assert "| bc | promoted | 4 | 3 |  |" in result.summary


def test_drift_report_gets_the_log_when_the_check_wrote_no_summary(runner: Runner) -> None:
    result = runner.run("drift", "Open or update the drift issue and retrain PR", {"github-token": "t"})
    assert result.calls[0]["argv"] == [
        "drift-report",
        *("--summary", f"{runner.temp}/drift.json"),
        *("--json", f"{runner.temp}/drift-report.json"),
        *("--error-log", f"{runner.temp}/drift.log"),
    ]
    runner.write("drift.json", {})
    again = runner.run("drift", "Open or update the drift issue and retrain PR", {"model": "m"})
    assert "--error-log" not in again.calls[0]["argv"] and again.calls[0]["argv"][-2:] == ["--model", "m"]


def test_drift_check_keeps_its_log_and_its_exit_code(runner: Runner) -> None:
    result = runner.run("drift", "Check for drift", {}, exit_code=2)
    assert result.returncode == 2
    assert (runner.temp / "drift.log").exists()
    assert result.calls[0]["argv"][:5] == [
        "drift",
        "--config",
        ".github/mlops-bot.yml",
        "--out",
        f"{runner.temp}/drift",
    ]


def test_drift_outputs(runner: Runner) -> None:
    columns = [
        {"column": "age", "drifted": True},
        {"column": "income", "drifted": False},
        {"column": "region", "drifted": True},
    ]
    runner.write("drift.json", {"model": "m", "dataset_drift": True, "columns": columns})
    outputs = runner.run("drift", "Summarise", {}).outputs
    assert outputs["drift"] == "true"
    assert outputs["drifted-columns"] == "age,region"
    assert outputs["report-dir"] == str(runner.temp / "drift")
    assert outputs["fired"] == "false" and outputs["issue-number"] == "" and outputs["pr-number"] == ""
    runner.write("drift-report.json", {"model": "m", "issue": 31, "retrain_pr": 32, "fired": ["data-drift"]})
    fired = runner.run("drift", "Summarise", {})
    assert (fired.outputs["fired"], fired.outputs["issue-number"], fired.outputs["pr-number"]) == (
        "true",
        "31",
        "32",
    )
    assert "issue #31" in fired.summary and "retrain PR #32" in fired.summary
    runner.write("drift.json", {"model": "m", "dataset_drift": False, "columns": []})
    assert runner.run("drift", "Summarise", {}).outputs["drift"] == "false"


def test_card_action_posts_a_forks_results_as_untrusted(runner: Runner) -> None:
    inputs = {
        "pr-number": "9",
        "results": "/r/train.json",
        "sha": "a" * 40,
        "untrusted": "true",
        "github-token": "t",
    }
    result = runner.run("card", "Post the card", inputs)
    assert result.returncode == 0, result.stdout
    assert result.calls[0]["argv"] == [
        "card",
        "--pr",
        "9",
        "--results",
        "/r/train.json",
        "--sha",
        "a" * 40,
        "--untrusted",
    ]
    assert result.calls[0]["env"]["GITHUB_TOKEN"] == "t"
    trusted = runner.run("card", "Post the card", {"pr-number": "9"})
    assert trusted.calls[0]["argv"] == ["card", "--pr", "9"]
    assert runner.run("card", "Post the card", {"pr-number": ""}).returncode == 1
