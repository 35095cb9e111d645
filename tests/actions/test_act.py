"""The train action run by `act` in host mode (no Docker), as a workflow would call it, with a stand-in
`mlops-bot` on PATH: composite steps, env mapping, `!cancelled()` and the outputs reach the workflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.actions.action_files import REPO_ROOT, tool

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
        json.dump([{{"model": "m", "ok": True, "reused": False, "run": {{"run_id": "run-42"}}}}], f)
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
          CONCLUSION: ${{ steps.train.outputs.conclusion }}
        run: echo "outputs run-id=$RUN_ID conclusion=$CONCLUSION"
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
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert "outputs run-id=run-42 conclusion=success" in log
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [c[0] for c in calls] == ["train", "card"]
    assert calls[0][calls[0].index("--model") + 1] == 'm"; echo INJECTED; "'
    assert calls[1][calls[1].index("--pr") + 1] == "5"  # from the event, the input's default
    assert "| INJECTED" not in log  # the hostile model name never ran as shell code
