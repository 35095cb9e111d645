"""The train workflow template run for real by `act` in host mode (no Docker): a pull request on the GitHub
stand-in, the real `mlops-bot` CLI, `dvc repro` of the sample project, an MLflow sqlite store, and the model
card posted back to the stand-in with the app's installation token.

act cannot fetch actions from github.com here, so `--local-repository` points each pinned `uses:` of the
template at a local folder: mlops-bot's own `actions/` for the train action, and small offline stand-ins
(tests/actions/offline/) for actions/checkout, actions/setup-python and actions/upload-artifact. The one
edit to the template is `install: "false"` on the train step: mlops-bot is already on PATH from this venv,
and the install step would otherwise pip-install the package over the network.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.actions.action_files import REPO_ROOT, tool
from tests.support.mlflow_store import sqlite_registry

REPO = "acme/breast-cancer"
AUTHOR = "alice"
MODEL = "breast-cancer"
BRANCH = "tune-regularisation"
TEMPLATE = REPO_ROOT / "templates" / "workflows" / "mlops-pr.yml"
OFFLINE = Path(__file__).parent / "offline"
# Each pinned github.com action the template uses, and the offline folder act runs instead.
OFFLINE_ACTIONS = {
    "actions/checkout": OFFLINE / "checkout",
    "actions/setup-python": OFFLINE / "setup-python",
    "actions/upload-artifact": OFFLINE / "upload-artifact",
}
CACHE_PIN = "actions/cache@0057852bfaa89a56745cba8c7296529d2fc39830"
TRAIN_ACTION = re.compile(r"^[^/@]+/[^/@]+/actions/train@")


def pin(uses: str) -> str:
    """The `owner/repo@ref` that act's --local-repository matches (an action in a sub-folder belongs to its
    repository)."""
    path, _, ref = uses.partition("@")
    return "/".join(path.split("/")[:2]) + "@" + ref


def derived_workflow(template: str) -> tuple[str, dict[str, str]]:
    """The template with `install: "false"` on the train step, and which local folder (a key of
    OFFLINE_ACTIONS, or "mlops-bot") stands for each pinned action it uses."""
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: the workflow act runs is the template, comments and all
    yaml.preserve_quotes = True
    workflow = yaml.load(template)
    pinned: dict[str, str] = {}
    for step in workflow["jobs"]["train"]["steps"]:
        uses = str(step.get("uses", ""))
        name = uses.partition("@")[0]
        if name in OFFLINE_ACTIONS:
            pinned[pin(uses)] = name
        elif TRAIN_ACTION.match(uses):
            pinned[pin(uses)] = "mlops-bot"
            step["with"]["install"] = "false"
    out = io.StringIO()
    yaml.dump(workflow, out)
    return out.getvalue(), pinned


def test_every_action_the_template_uses_has_a_local_folder() -> None:
    """A new github.com action in the template needs an offline stand-in here, or act would fetch it."""
    from tests.actions.action_files import load_yaml

    _, pinned = derived_workflow(TEMPLATE.read_text())
    steps = load_yaml(TEMPLATE)["jobs"]["train"]["steps"]
    assert {pin(step["uses"]) for step in steps if "uses" in step} == set(pinned)
    assert sorted(set(pinned.values())) == sorted([*OFFLINE_ACTIONS, "mlops-bot"])


@dataclass(frozen=True)
class OpenPullRequest:
    """A pull request on the stand-in, as a workflow run for it sees it."""

    number: int
    head_sha: str  # the head the PR was opened with (before the bot's dvc.lock commit)
    bare: Path  # the stand-in's git repository
    dvc_remote: Path
    event: dict[str, Any]  # the pull_request.opened webhook payload: the run's event file
    token: str  # an installation token of the app: the run's GITHUB_TOKEN


@pytest.fixture
def hooks() -> Iterator[Any]:
    from bot.standin.testing import WebhookReceiver

    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def stand_in(tmp_path: Path, hooks: Any) -> Iterator[Any]:
    from bot.standin import StandIn
    from bot.standin.testing import assert_clean

    with StandIn(tmp_path / "github", webhook_url=hooks.url, webhook_secret="s", strict=True) as gh:
        gh.validate_responses = True  # the answers the CLI got must have GitHub's shapes too
        yield gh
        assert_clean(gh)


def open_param_change(gh: Any, hooks: Any, folder: Path) -> OpenPullRequest:
    """The sample DVC project on the stand-in with the app installed, and a PR from a branch that lowers
    `train.C`."""
    from bot.adapters.dvc import init_sample_project
    from bot.core.yaml_edit import set_keys

    seed = init_sample_project(folder / "seed", remote=folder / "dvc-remote")
    gh.create_user(AUTHOR)
    bare = gh.create_repo(REPO, source=seed)
    gh.set_permission(REPO, AUTHOR, "write")
    installation = gh.install_app(REPO)
    params = set_keys((seed / "params.yaml").read_text(), {"train.C": 0.5})
    head = gh.commit(REPO, BRANCH, {"params.yaml": params}, "C=0.5", author=AUTHOR, base="main")
    number = gh.open_pull(REPO, head=BRANCH, title="Stronger regularisation", author=AUTHOR)
    return OpenPullRequest(
        number=number,
        head_sha=head,
        bare=bare,
        dvc_remote=folder / "dvc-remote",
        event=_delivered_pull_request(hooks, number),
        token=gh.installation_token(installation),
    )


def _delivered_pull_request(hooks: Any, number: int, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for hook in list(hooks.hooks):
            body = json.loads(hook.body)
            if hook.event == "pull_request" and body.get("number") == number:
                return dict(body)
        time.sleep(0.05)
    raise AssertionError(f"the stand-in sent no pull_request webhook for #{number}")


def act_command(
    folder: Path, pull: OpenPullRequest, *, api_url: str, server_url: str, tracking_uri: str
) -> list[str]:
    """`act pull_request` in host mode on the derived template, with the pinned actions mapped to folders."""
    workflow_text, pinned = derived_workflow(TEMPLATE.read_text())
    (folder / "workflows").mkdir()
    (folder / "workflows" / "mlops-pr.yml").write_text(workflow_text)
    (folder / "event.json").write_text(json.dumps(pull.event))
    shutil.copytree(REPO_ROOT / "actions", folder / "mlops-bot-src" / "actions")
    folders = {
        **{name: str(path) for name, path in OFFLINE_ACTIONS.items()},
        "mlops-bot": str(folder / "mlops-bot-src"),
    }
    command = [
        tool("act"),
        "pull_request",
        "-W",
        str(folder / "workflows"),
        "-e",
        str(folder / "event.json"),
        "-P",
        "ubuntu-latest=-self-hosted",
        "--pull=false",
        "--actor",
        AUTHOR,
        "-s",
        f"GITHUB_TOKEN={pull.token}",
        "--var",
        f"MLFLOW_TRACKING_URI={tracking_uri}",
        # What a GitHub Enterprise runner sets. act's defaults (api.github.com, github.com, a repository
        # parsed from a github.com origin) would send the bot to GitHub itself; --env overrides them.
        "--env",
        f"GITHUB_API_URL={api_url}",
        "--env",
        f"GITHUB_SERVER_URL={server_url}",
        "--env",
        f"GITHUB_REPOSITORY={REPO}",
        "--env",
        "MLOPS_BOT_GITHUB_THROTTLE=false",
        "--env",
        f"OFFLINE_ARTIFACTS={folder / 'artifacts'}",
    ]
    for pin, name in pinned.items():
        command += ["--local-repository", f"{pin}={folders[name]}"]
    # the train action's own cache steps (no OFFLINE_CACHE: every lookup misses, as on a first run)
    command += ["--local-repository", f"{CACHE_PIN}={OFFLINE / 'cache'}"]
    return command


@pytest.mark.slow
@pytest.mark.integration
def test_pr_template_trains_and_posts_the_card_under_act(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, stand_in: Any, hooks: Any
) -> None:
    from bot.core.markers import card_marker
    from bot.core.tags import RunTags
    from bot.standin.testing import assert_clean

    gh = stand_in
    pull = open_param_change(gh, hooks, tmp_path)
    registry = sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())
    command = act_command(
        tmp_path, pull, api_url=gh.base_url, server_url=gh.html_url, tracking_uri=registry.tracking_uri
    )
    # act starts in a clone at main, which it reads for the git context; in host mode the job's workspace
    # is a fresh empty folder that the workflow's own checkout step fills with the PR head.
    workdir = tmp_path / "workdir"
    subprocess.run(["git", "clone", "-q", str(pull.bare), str(workdir)], check=True)
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # this venv's mlops-bot
        "HOME": str(tmp_path),  # act keeps its caches under HOME
    }
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert pull.token not in log  # act masks the secret in the job log

    # The job trained the PR head (not main, where act started), logged the run to MLflow with the PR's
    # tags, pushed the DVC outputs, uploaded the results and committed dvc.lock back to the PR branch.
    results = json.loads(
        next((tmp_path / "artifacts").glob(f"mlops-bot-train-{pull.number}/*.json")).read_text()
    )
    assert [(r["model"], r["ok"], r["reused"]) for r in results] == [(MODEL, True, False)], results
    # The run stands for the PR's new head, the bot's dvc.lock commit on top of the trained one (bot/core/pushes.py:
    # that push trains nothing; /card finds the run by it).
    head = gh.pull(REPO, pull.number).head_sha
    runs = registry.find_runs(MODEL, {RunTags.HEAD_SHA: head, RunTags.PR: str(pull.number)})
    assert [r.run_id for r in runs] == [results[0]["run"]["run_id"]]
    assert runs[0].tags[RunTags.REPO] == REPO
    assert runs[0].params["train.C"] == "0.5"
    assert runs[0].tags[RunTags.CI_URL].startswith(f"{gh.html_url}/{REPO}/actions/runs/")
    assert any(p.is_file() for p in pull.dvc_remote.rglob("*")), "nothing was pushed to the DVC remote"
    assert head != pull.head_sha, "the dvc.lock commit was not pushed to the PR branch"
    changed = subprocess.run(
        ["git", "--git-dir", str(pull.bare), "show", "--name-only", "--format=", head],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert changed == ["dvc.lock"]

    # One sticky card posted as the app (the installation token reached the card step as github.token),
    # a completed Check Run on the PR head, and every request the job made followed GitHub's description.
    cards = [c for c in gh.comments(REPO, pull.number) if card_marker(MODEL) in c.body]
    assert [c.user for c in cards] == [gh.default_app.bot_login], cards
    assert results[0]["run"]["run_id"] in cards[0].body
    checks = [r for r in gh.check_runs(REPO, head) if r.name.endswith(MODEL)]
    assert [(r.status, r.conclusion) for r in checks] == [("completed", "success")], checks
    assert any(r.actor == gh.default_app.bot_login for r in gh.requests), "the job never called the stand-in"

    # The run page: a log group per phase in order, the card and the train table in the step summary, the
    # card's URL as the action's output, and no warning about a tracking server (the variable is set).
    groups = [g for g in re.findall(r"::group::([^\n]*)", log)]
    phases = [g for g in groups if g.startswith(f"{MODEL}: ")]
    assert phases == [f"{MODEL}: dvc repro", f"{MODEL}: log the run to MLflow", f"{MODEL}: dvc push"], groups
    assert "Post the model card" in groups
    assert f"Summary - ### Model card: {MODEL}" in log and "Summary - ## mlops-bot train" in log
    assert f"card-url={gh.html_url}/{REPO}/pull/{pull.number}#issuecomment-{cards[0].id}" in log
    # the warning itself (the skipped upload step's name, which act logs, says it too)
    assert "mlops-bot train::no MLFLOW_TRACKING_URI" not in log

    assert_clean(gh)
