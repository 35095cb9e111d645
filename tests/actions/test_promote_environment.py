"""Issue 15: with `executor: actions`, the promote job declares the environment it deploys to, so GitHub itself
holds it for that environment's protection rules (required reviewers, wait timer) before it starts; and the
action tells the CLI so, never through an expression inside its script."""

from __future__ import annotations

from tests.actions.action_files import REPO_ROOT, load_yaml

WORKFLOW = REPO_ROOT / "templates" / "workflows" / "mlops-promote.yml"
ACTION = REPO_ROOT / "actions" / "promote" / "action.yml"


def test_the_promote_job_declares_the_dispatched_environment_else_the_first() -> None:
    doc = load_yaml(WORKFLOW)
    job = doc["jobs"]["promote"]
    # https://docs.github.com/actions/writing-workflows/workflow-syntax-for-github-actions#jobsjob_idenvironment
    assert job["environment"] == "${{ inputs.environment || 'production' }}"
    declared = doc["on"]["workflow_dispatch"]["inputs"]["environment"]
    assert declared["type"] == "string" and declared["default"] == ""
    [promote] = [s for s in job["steps"] if s.get("id") == "promote"]
    assert promote["with"]["environment"] == "${{ inputs.environment }}"


def test_the_action_moves_on_only_where_the_job_named_the_environment() -> None:
    doc = load_yaml(ACTION)
    assert doc["inputs"]["environment"]["default"] == ""
    [step] = [s for s in doc["runs"]["steps"] if s.get("name") == "Promote"]
    assert step["env"]["ENVIRONMENT"] == "${{ inputs.environment }}"
    script = step["run"]
    assert "${{" not in script  # the name reaches the shell only as "$ENVIRONMENT"
    assert 'args=(--to "$ENVIRONMENT" --github-enforced' in script
    assert script.index('if [ -n "$ENVIRONMENT" ]') < script.index("--github-enforced")
