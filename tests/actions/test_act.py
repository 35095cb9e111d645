"""The train action run by `act` in host mode (no Docker), as a workflow would call it, with a stand-in
`mlops-bot` on PATH: composite steps, env mapping, `!cancelled()`, the outputs reach the workflow, and the
run page gets its summaries, annotations and log groups."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.actions.action_files import REPO_ROOT, tool

OFFLINE = Path(__file__).parent / "offline"
CACHE_PIN = "actions/cache@0057852bfaa89a56745cba8c7296529d2fc39830"

# The stand-in writes the results `mlops-bot train --json` would, and logs every call.
FAKE_CLI = """\
#!{python}
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_CALLS"], "a") as calls:
    calls.write(json.dumps(argv) + "\\n")
if argv[0] == "train":
    out = argv[argv.index("--json") + 1]
    with open(out, "w") as f:
        json.dump([{{"model": "m", "ok": True, "reused": False, "run": {{"run_id": "run-42", "url": "http://mlflow/r/42"}}}}], f)
    print("::warning file=dvc.yaml,line=3,title=mlops-bot train%3A m::stage 'train' took long")
if argv[0] == "card":
    with open(os.environ["GITHUB_OUTPUT"], "a") as out:
        out.write("card-url=http://gh/acme/demo/pull/5#issuecomment-7\\n")
    with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as summary:
        summary.write("## Model card of m\\n")
if argv[0] == "promote":
    with open(argv[argv.index("--json") + 1], "w") as f:
        json.dump([{{"model": "m", "status": "promoted", "version": "4", "previous": "3", "deployment_id": 9}}], f)
if argv[0] == "drift":
    with open(argv[argv.index("--json") + 1], "w") as f:
        json.dump({{"model": "m", "dataset_drift": True, "columns": [{{"column": "age", "drifted": True}}]}}, f)
if argv[0] == "drift-report":
    with open(argv[argv.index("--json") + 1], "w") as f:
        json.dump({{"model": "m", "action": "retrain", "issue": 12, "retrain_pr": 13, "fired": ["data-drift"]}}, f)
if argv[0] == "actions-summary":
    from bot.cli import main
    sys.exit(main(argv))
"""

WORKFLOW = """\
name: smoke
on: pull_request
permissions: {}
jobs:
  train:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@v4
      - uses: ./actions/train
        id: train
        with:
          install: "false"
          model: 'm"; echo INJECTED; "'
      - name: Show outputs
        env:
          RUN_ID: ${{ steps.train.outputs.run-id }}
          RUN_URL: ${{ steps.train.outputs.run-url }}
          CARD_URL: ${{ steps.train.outputs.card-url }}
          CONCLUSION: ${{ steps.train.outputs.conclusion }}
          STORE: ${{ steps.train.outputs.mlflow-store }}
        run: echo "outputs run-id=$RUN_ID run-url=$RUN_URL card-url=$CARD_URL conclusion=$CONCLUSION store=$STORE"
"""

EVENT = {
    "action": "synchronize",
    "number": 5,
    "pull_request": {
        "number": 5,
        "head": {"ref": "feature", "sha": "1" * 40, "repo": {"full_name": "acme/demo"}},
        "base": {"ref": "main", "sha": "2" * 40, "repo": {"full_name": "acme/demo"}},
    },
    "repository": {"full_name": "acme/demo"},
}


def test_train_action_under_act(tmp_path: Path) -> None:
    act = tool("act")
    repo, fake_bin = tmp_path / "repo", tmp_path / "bin"
    shutil.copytree(REPO_ROOT / "actions", repo / "actions")
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "smoke.yml").write_text(WORKFLOW)
    (tmp_path / "event.json").write_text(json.dumps(EVENT))
    fake_bin.mkdir()
    (fake_bin / "mlops-bot").write_text(FAKE_CLI.format(python=sys.executable))
    (fake_bin / "mlops-bot").chmod(0o755)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "smoke"], cwd=repo, check=True)
    env = {
        "PATH": f"{fake_bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),  # act keeps its caches under HOME
        "FAKE_CALLS": str(tmp_path / "calls.jsonl"),
    }
    done = subprocess.run(
        [
            act,
            "pull_request",
            "-e",
            str(tmp_path / "event.json"),
            "-P",
            "ubuntu-latest=-self-hosted",
            "--pull=false",
            # the action's own cache steps: an offline stand-in (act cannot fetch actions/cache here)
            "--local-repository",
            f"{CACHE_PIN}={OFFLINE / 'cache'}",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    shown = re.search(r"outputs run-id=(\S*) run-url=(\S*) card-url=(\S*) conclusion=(\S*) store=(\S*)", log)
    assert shown, log
    assert shown.groups()[:4] == (
        "run-42",
        "http://mlflow/r/42",
        "http://gh/acme/demo/pull/5#issuecomment-7",  # the card step's output, through the action's
        "success",
    )
    assert shown[5].endswith("/mlops-bot-mlflow")  # no tracking URI: the throwaway store, named
    # The run page: the card step's summary and the action's own, the annotations, the log groups.
    assert "Summary - ## Model card of m" in log
    assert "Summary - ## mlops-bot train" in log
    assert "| m | trained | [run-42](http://mlflow/r/42) |  |" in log
    assert "::warning file=dvc.yaml,line=3,title=mlops-bot train%3A m::stage 'train' took long" in log
    assert "::warning title=mlops-bot train::no MLFLOW_TRACKING_URI: the runs go to a throwaway SQLite" in log
    assert "::group::Post the model card" in log
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [c[0] for c in calls] == ["train", "card", "actions-summary"]
    assert calls[0][calls[0].index("--model") + 1] == 'm"; echo INJECTED; "'
    assert calls[1][calls[1].index("--pr") + 1] == "5"  # from the event, the input's default
    assert "| INJECTED" not in log  # the hostile model name never ran as shell code


def test_the_gpu_workflow_init_writes_runs_under_act_with_its_labels_mapped(tmp_path: Path) -> None:
    """The GPU recipe: `init --runner self-hosted,gpu`, the written mlops-pr.yml as a runner with both labels
    runs it (act maps each label to the host), with the stand-in CLI and the offline actions."""
    from bot.cli import main
    from tests.actions.test_act_real import OFFLINE_ACTIONS, derived_workflow

    act = tool("act")
    repo, fake_bin, written = tmp_path / "repo", tmp_path / "bin", tmp_path / "written"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "params.yaml").write_text("train:\n  C: 0.5\n")
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "C=0.5"], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()

    assert main(["init", "--dir", str(written), "--template", "--runner", "self-hosted,gpu"]) == 0
    template = (written / ".github" / "workflows" / "mlops-pr.yml").read_text()
    assert "runs-on: [self-hosted, gpu] # from mlops-bot init --runner" in template
    workflow, pinned = derived_workflow(template)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "mlops-pr.yml").write_text(workflow)
    shutil.copytree(REPO_ROOT / "actions", tmp_path / "mlops-bot-src" / "actions")
    folders = {
        **{name: str(path) for name, path in OFFLINE_ACTIONS.items()},
        "mlops-bot": str(tmp_path / "mlops-bot-src"),
    }
    same_repo = {"full_name": "acme/demo"}
    event = {
        "action": "synchronize",
        "number": 5,
        "pull_request": {
            "number": 5,
            "head": {"ref": "feature", "sha": head, "repo": same_repo},
            "base": {"ref": "main", "sha": head, "repo": same_repo},
        },
        "repository": {"full_name": "acme/demo", "clone_url": str(repo)},
    }
    (tmp_path / "event.json").write_text(json.dumps(event))
    fake_bin.mkdir()
    (fake_bin / "mlops-bot").write_text(FAKE_CLI.format(python=sys.executable))
    (fake_bin / "mlops-bot").chmod(0o755)
    command = [
        act, "pull_request", "-W", str(tmp_path / "workflows"), "-e", str(tmp_path / "event.json"),
        "-P", "self-hosted=-self-hosted", "-P", "gpu=-self-hosted", "--pull=false",
        "--env", "GITHUB_REPOSITORY=acme/demo", "--env", f"OFFLINE_ARTIFACTS={tmp_path / 'artifacts'}",
        "--local-repository", f"{CACHE_PIN}={OFFLINE / 'cache'}",
    ]  # fmt: skip
    for pin, name in pinned.items():
        command += ["--local-repository", f"{pin}={folders[name]}"]
    env = {
        "PATH": f"{fake_bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "FAKE_CALLS": str(tmp_path / "calls.jsonl"),
    }
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert "Train and post the model card" in log and f"checked out {head}" in log
    calls = [json.loads(line)[0] for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert calls == ["train", "card", "actions-summary"]
    assert "Summary - ## mlops-bot train" in log
    results = json.loads((tmp_path / "artifacts" / "mlops-bot-train-5" / "train.json").read_text())
    assert results[0]["run"]["run_id"] == "run-42"


ONE_ACTION = """\
name: one
on: workflow_dispatch
permissions: {{}}
jobs:
  run:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@v4
      - uses: ./actions/{action}
        id: it
        with:
          install: "false"
      - name: Show outputs
        env:
          OUTPUTS: ${{{{ toJSON(steps.it.outputs) }}}}
        run: echo "outputs=$OUTPUTS" | tr -d '\\n '; echo
"""


@pytest.mark.parametrize(
    ("action", "summary", "outputs"),
    [
        (
            "promote",
            "Summary - ## mlops-bot promote",
            {
                "conclusion": "promoted",
                "model-version": "4",
                "deployment-url": "http://api.test/repos/acme/demo/deployments/9",
            },
        ),
        (
            "drift",
            "Summary - ## mlops-bot drift",
            {
                "drift": "true",
                "drifted-columns": "age",
                "fired": "true",
                "issue-number": "12",
                "pr-number": "13",
            },
        ),
    ],
)
def test_promote_and_drift_actions_under_act(
    tmp_path: Path, action: str, summary: str, outputs: dict[str, str]
) -> None:
    act = tool("act")
    repo, fake_bin = tmp_path / "repo", tmp_path / "bin"
    shutil.copytree(REPO_ROOT / "actions", repo / "actions")
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "one.yml").write_text(ONE_ACTION.format(action=action))
    fake_bin.mkdir()
    (fake_bin / "mlops-bot").write_text(FAKE_CLI.format(python=sys.executable))
    (fake_bin / "mlops-bot").chmod(0o755)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "one"], cwd=repo, check=True)
    env = {
        "PATH": f"{fake_bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "FAKE_CALLS": str(tmp_path / "calls.jsonl"),
    }
    done = subprocess.run(
        [act, "workflow_dispatch", "-P", "ubuntu-latest=-self-hosted", "--pull=false",
         "--env", "GITHUB_API_URL=http://api.test", "--env", "GITHUB_REPOSITORY=acme/demo",
         "--local-repository", f"{CACHE_PIN}={OFFLINE / 'cache'}"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert summary in log
    shown = re.search(r"outputs=(\{.*\})", log)
    assert shown, log
    assert json.loads(shown[1]).items() >= outputs.items()
