"""The composite actions and workflow templates keep the promises a security reviewer checks first:
inputs reach shells only through env, every workflow starts from no permissions, forks get no secrets
and no write-back, third-party actions are pinned by commit."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.actions.action_files import (
    ACTION_FILES,
    ALL_FILES,
    ALL_WORKFLOWS,
    REPO_ROOT,
    TEMPLATE_WORKFLOWS,
    load_yaml,
    rel,
)

SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
PINNED_USES = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})$")
# mlops-bot's own actions: the release tag `init` writes (or a sha from `init --actions-ref`).
OUR_ACTION = re.compile(r"^[\w.-]+/[\w.-]+/actions/(?P<name>[\w-]+)@(?P<ref>v\d+\.\d+\.\d+|[0-9a-f]{40})$")


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _steps(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "runs" in doc:
        yield from doc["runs"].get("steps", [])
    for job in (doc.get("jobs") or {}).values():
        yield from job.get("steps", [])


def _uses(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return (step for step in _steps(doc) if "uses" in step)


def test_every_expected_file_exists() -> None:
    assert [p.parent.name for p in ACTION_FILES] == ["card", "drift", "promote", "train"]
    assert [p.name for p in TEMPLATE_WORKFLOWS] == [
        "mlops-drift.yml",
        "mlops-pr-card.yml",
        "mlops-pr.yml",
        "mlops-promote.yml",
    ]
    assert (REPO_ROOT / ".github" / "workflows" / "ci.yml").is_file()


@pytest.mark.parametrize("path", ALL_FILES, ids=rel)
def test_no_expression_inside_a_run_script(path: Path) -> None:
    """`${{ }}` in a script is pasted into the shell before it runs: a PR title could become code."""
    offenders = [
        node.get("name", node["run"].splitlines()[0])
        for node in _walk(load_yaml(path))
        if isinstance(node.get("run"), str) and "${{" in node["run"]
    ]
    assert offenders == [], f"{rel(path)}: move these expressions into env: {offenders}"


@pytest.mark.parametrize("path", ACTION_FILES, ids=rel)
def test_composite_action_documents_its_interface(path: Path) -> None:
    doc = load_yaml(path)
    assert doc["runs"]["using"] == "composite"
    assert doc["name"] and doc["description"]
    for name, spec in doc["inputs"].items():
        assert spec.get("description"), f"input {name} has no description"
        assert "default" in spec, f"input {name} has no default"
    assert doc["outputs"], "an action without outputs leaves the workflow guessing"
    for name, spec in doc["outputs"].items():
        assert spec.get("description") and spec.get("value"), f"output {name} needs a description and a value"
    for step in doc["runs"]["steps"]:
        if "uses" in step:  # the one action they call: GitHub's cache, pinned like every other
            assert step["uses"].startswith("actions/cache@"), f"{step.get('name')}: only actions/cache"
            continue
        assert step.get("shell") in {"bash", "python"}, f"{step.get('name')}: a run step needs a shell"


def _install_steps(path: Path) -> list[dict[str, Any]]:
    steps = load_yaml(path)["runs"]["steps"]
    last = next(i for i, s in enumerate(steps) if s.get("name") == "Check mlops-bot is available")
    return list(steps[: last + 1])


@pytest.mark.parametrize("path", ACTION_FILES, ids=rel)
def test_action_installs_itself_through_its_own_path_into_its_own_venv(path: Path) -> None:
    steps = {s["name"]: s for s in _install_steps(path)}
    locate, install = steps["Locate mlops-bot's environment"], steps["Install mlops-bot"]
    assert 'root="$(cd "${GITHUB_ACTION_PATH}/../.." && pwd)"' in locate["run"]
    assert install["if"] == locate["if"] == "inputs.install == 'true'"
    assert '"${ROOT}[all]" -c "${ROOT}/constraints.txt"' in install["run"]
    # its own venv, and nothing on PATH or in the job's environment: the stages' python stays the user's
    assert (
        'python -m venv "$VENV"' in install["run"] and '"$VENV/bin/python" -m pip install' in install["run"]
    )
    assert "GITHUB_PATH" not in path.read_text() and "GITHUB_ENV" not in path.read_text()
    # the venv's cache key names the pins, so a new constraints file is a new environment
    assert "constraints.txt" in locate["run"] and "key=mlops-bot-venv-" in locate["run"]
    assert steps["Restore mlops-bot's environment"]["with"]["key"] == "${{ steps.bot-env.outputs.key }}"


def test_every_action_installs_the_same_way() -> None:
    first, *others = ACTION_FILES
    for path in others:
        assert _install_steps(path) == _install_steps(first), f"{rel(path)} installs differently"


@pytest.mark.parametrize("path", ACTION_FILES, ids=rel)
def test_action_calls_the_bot_it_installed(path: Path) -> None:
    """A step calls `"$MLOPS_BOT"`: the venv's when the action installed it, the one on PATH otherwise."""
    for step in load_yaml(path)["runs"]["steps"]:
        if re.search(r"(?m)(^|[;&|(]\s*)mlops-bot [a-z]", step.get("run", "")):
            raise AssertionError(f'{step["name"]}: call "$MLOPS_BOT", not mlops-bot from PATH')
        if "$MLOPS_BOT" in step.get("run", ""):
            assert step["env"]["MLOPS_BOT"] == "${{ steps.bot-install.outputs.bot || 'mlops-bot' }}"


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=rel)
def test_workflow_starts_from_no_permissions(path: Path) -> None:
    doc = load_yaml(path)
    assert doc["permissions"] == {}, "top-level permissions must be {} so a new job starts with nothing"
    for name, job in doc["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict) and perms, f"job {name} must list the permissions it needs"
        assert set(perms.values()) <= {"read", "write"}


@pytest.mark.parametrize(
    ("workflow", "job", "expected"),
    [
        ("mlops-pr.yml", "train", {"contents": "write", "pull-requests": "write", "checks": "write"}),
        ("mlops-pr.yml", "train-fork", {"contents": "read"}),  # a fork's code: read-only, no secrets
        ("mlops-pr.yml", "pr-facts", {"pull-requests": "read"}),
        (
            "mlops-pr-card.yml",
            "card",
            {"actions": "read", "contents": "read", "pull-requests": "write", "checks": "write"},
        ),
        (
            "mlops-promote.yml",
            "promote",
            {"contents": "read", "deployments": "write", "pull-requests": "write"},
        ),
        (
            "mlops-drift.yml",
            "drift",
            {"contents": "write", "pull-requests": "write", "issues": "write", "actions": "write"},
        ),
    ],
)
def test_each_job_gets_only_what_it_uses(workflow: str, job: str, expected: dict[str, str]) -> None:
    doc = load_yaml(REPO_ROOT / "templates" / "workflows" / workflow)
    assert doc["jobs"][job]["permissions"] == expected


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=rel)
def test_no_workflow_runs_pull_request_code_with_the_base_repositorys_secrets(path: Path) -> None:
    assert "pull_request_target" not in load_yaml(path)["on"]


def test_pr_workflow_triggers() -> None:
    on = load_yaml(REPO_ROOT / "templates" / "workflows" / "mlops-pr.yml")["on"]
    assert on["pull_request"]["paths"] == [
        "dvc.yaml",
        "dvc.lock",
        "params.yaml",
        "src/**",
        "data/**.dvc",
        ".github/mlops-bot.yml",
    ]
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["pr"]["required"] is True
    assert {"pr", "model", "sha"} == set(inputs)


def test_promote_and_drift_triggers() -> None:
    promote = load_yaml(REPO_ROOT / "templates" / "workflows" / "mlops-promote.yml")["on"]
    assert promote["push"]["branches"] == ["main"] and "workflow_dispatch" in promote
    assert promote["workflow_dispatch"]["inputs"]["dry-run"]["default"] is True
    drift = load_yaml(REPO_ROOT / "templates" / "workflows" / "mlops-drift.yml")["on"]
    assert len(drift["schedule"][0]["cron"].split()) == 5 and "workflow_dispatch" in drift


@pytest.mark.parametrize("path", TEMPLATE_WORKFLOWS, ids=rel)
def test_template_limits_concurrency(path: Path) -> None:
    group = load_yaml(path)["concurrency"]["group"]
    # The fork-card workflow has no inputs: one card run per untrusted run it reads.
    per = "github.event.workflow_run.id" if path.name == "mlops-pr-card.yml" else "inputs.model"
    assert group.startswith("mlops-bot-") and per in group


def test_only_same_repository_prs_keep_credentials_and_commit_the_lock() -> None:
    doc = load_yaml(REPO_ROOT / "templates" / "workflows" / "mlops-pr.yml")
    steps = doc["jobs"]["train"]["steps"]
    for step in steps:
        if (
            step.get("uses", "").startswith("actions/checkout@")
            and step["with"]["persist-credentials"] is not False
        ):
            assert SAME_REPO in step["if"], f"{step['name']}: only a same-repository PR may keep credentials"
    train = next(s for s in steps if s.get("id") == "train")
    assert SAME_REPO in train["with"]["commit-lock"]
    assert "workflow_dispatch" in train["with"]["card"] and SAME_REPO in train["with"]["card"]


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=rel)
def test_other_checkouts_drop_credentials(path: Path) -> None:
    for step in _uses(load_yaml(path)):
        if step["uses"].startswith("actions/checkout@") and SAME_REPO not in step.get("if", ""):
            assert step["with"]["persist-credentials"] is False, step.get("name")


@pytest.mark.parametrize("path", ALL_FILES, ids=rel)
def test_actions_are_pinned_by_commit_with_a_version_comment(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for step in _uses(load_yaml(path)):
        ref = step["uses"]
        if ref.startswith("./") or OUR_ACTION.match(ref):
            continue  # mlops-bot's own: test_templates_pin_the_release_of_this_version
        assert PINNED_USES.match(ref), f"{ref}: pin by full commit sha"
        assert re.search(rf"uses: {re.escape(ref)} # \S", text), f"{ref}: say which version the sha is"


def test_every_file_pins_an_action_to_the_same_commit() -> None:
    """Dependabot bumps .github/; templates/ must follow, or users get a different checkout than CI."""
    pins: dict[str, set[str]] = {}
    for path in ALL_FILES:
        for step in _uses(load_yaml(path)):
            if match := PINNED_USES.match(step["uses"]):
                pins.setdefault(match["action"], set()).add(match["sha"])
    assert {"actions/checkout", "actions/setup-python", "actions/upload-artifact"} <= set(pins)
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}


def _our_action_steps() -> Iterator[tuple[Path, dict[str, Any], re.Match[str]]]:
    for path in TEMPLATE_WORKFLOWS:
        for step in _uses(load_yaml(path)):
            if match := OUR_ACTION.match(step["uses"]):
                yield path, step, match


def test_templates_pass_only_inputs_the_actions_declare() -> None:
    seen = []
    for path, step, match in _our_action_steps():
        declared = set(load_yaml(REPO_ROOT / "actions" / match["name"] / "action.yml")["inputs"])
        assert set(step.get("with", {})) <= declared, f"{rel(path)}: unknown inputs"
        seen.append(match["name"])
    # mlops-pr.yml: a trusted and a fork job; mlops-pr-card.yml: the fork's card
    assert sorted(seen) == ["card", "drift", "promote", "train", "train"]


def test_templates_pin_the_release_of_this_version() -> None:
    """The templates as shipped are what `init` writes by default: the tag of the version that runs it, so
    the actions a workflow calls install the same mlops-bot that wrote the workflow."""
    from bot import __version__

    refs = {match["ref"] for _, _, match in _our_action_steps()}
    assert refs == {f"v{__version__}"}


def test_the_release_tag_has_the_actions_the_templates_call() -> None:
    """Once tagged, the release's actions must accept what the templates pass (actionlint cannot see remote
    ones); before the tag exists (an unreleased version) there is nothing to check yet."""
    from ruamel.yaml import YAML

    for path, step, match in _our_action_steps():
        shown = subprocess.run(
            ["git", "show", f"{match['ref']}:actions/{match['name']}/action.yml"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        if shown.returncode != 0:
            pytest.skip(f"{match['ref']} is not tagged in this clone yet: {shown.stderr.strip()}")
        declared = set(YAML(typ="safe").load(shown.stdout)["inputs"])
        assert set(step.get("with", {})) <= declared, f"{rel(path)}: the tagged actions lack these inputs"


def test_config_template_is_valid_with_every_commented_option_enabled() -> None:
    from bot.core.config import load_config

    text = (REPO_ROOT / "templates" / "config" / "mlops-bot.yml").read_text(encoding="utf-8")
    config = load_config(text)
    assert [m.name for m in config.models] == ["my-model"]
    enabled = re.sub(r"(?m)^(\s*)# ([a-z_]+: )", r"\1\2", text)
    assert enabled != text
    full = load_config(enabled)
    assert full.card_template and full.models[0].drift and full.models[0].drift.per_column_threshold


def _cli_calls(path: Path) -> Iterator[tuple[str, set[str]]]:
    """(subcommand, flags) of every `mlops-bot` call in an action's bash steps."""
    for step in load_yaml(path)["runs"]["steps"]:
        script = step.get("run", "")
        call = re.search(r'^\s*"\$MLOPS_BOT" ([a-z-]+) ', script, re.M)
        if step.get("shell") == "bash" and call:
            yield call[1], set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", script))


@pytest.mark.parametrize("path", ACTION_FILES, ids=rel)
def test_actions_call_only_flags_the_cli_has(path: Path) -> None:
    from bot.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices  # type: ignore[union-attr]
    for command, flags in _cli_calls(path):
        known = {opt for action in commands[command]._actions for opt in action.option_strings}
        if known == {"-h", "--help"}:
            continue  # still a placeholder; the test bites once the command lands
        assert flags - {"--disable-pip-version-check"} <= known, f"mlops-bot {command} lacks {flags - known}"


def test_a_forks_code_runs_without_secrets_or_a_write_token() -> None:
    """Issue 18, finding 2: the job that runs a fork's code (approved or not) holds nothing worth stealing."""
    doc = load_yaml(REPO_ROOT / "templates" / "workflows" / "mlops-pr.yml")
    fork = doc["jobs"]["train-fork"]
    text = (REPO_ROOT / "templates" / "workflows" / "mlops-pr.yml").read_text()
    job_text = text[text.index("  train-fork:") :]
    assert "secrets." not in job_text and "github.token" not in job_text
    assert "env" not in fork
    train = next(s for s in fork["steps"] if s.get("id") == "train")
    assert train["with"]["card"] == "false" and train["with"]["commit-lock"] == "false"
    assert "!=" in fork["if"] and "!=" not in doc["jobs"]["train"]["if"].split("workflow_dispatch")[0]
    card = load_yaml(REPO_ROOT / "templates" / "workflows" / "mlops-pr-card.yml")
    assert list(card["on"]) == ["workflow_run"]
    assert card["on"]["workflow_run"]["workflows"] == [doc["name"]]
    post = card["jobs"]["card"]["steps"][-1]
    assert OUR_ACTION.match(post["uses"]) and post["uses"].split("/")[3].startswith("card@")
    assert post["with"]["untrusted"] == "true" and post["with"]["sha"] == "${{ steps.fetch.outputs.sha }}"
    card_action = next(
        s for s in load_yaml(REPO_ROOT / "actions/card/action.yml")["runs"]["steps"] if s.get("id") == "card"
    )
    assert "args+=(--untrusted)" in card_action["run"] and 'args+=(--sha "$SHA")' in card_action["run"]
