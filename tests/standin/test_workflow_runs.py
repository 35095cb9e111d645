"""A workflow_dispatch starts a run: titled by the workflow's `run-name`, followed by `workflow_run` webhooks
that match GitHub's payload schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.standin import StandIn, runs
from bot.standin.spec import webhook_schemas
from bot.standin.testing import WebhookReceiver

from .conftest import World

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "workflows"


def _workflow_hooks(receiver: WebhookReceiver, since: int) -> list[dict[str, Any]]:
    return [json.loads(h.body) for h in receiver.hooks[since:] if h.event == "workflow_run"]


def _install_templates(standin: StandIn, world: World) -> None:
    files = {f".github/workflows/{p.name}": p.read_text() for p in TEMPLATES.glob("*.yml")}
    standin.commit(world.full_name, "main", files, "Add the mlops-bot workflows", author=world.owner)


def test_a_dispatch_starts_a_run_and_finishing_it_sends_valid_workflow_run_events(
    standin: StandIn, world: World, receiver: WebhookReceiver
) -> None:
    _install_templates(standin, world)
    start = len(receiver.hooks)
    workflow = world.bot().get_workflow("mlops-pr.yml")
    assert workflow.create_dispatch("main", {"pr": "7", "model": "churn", "sha": ""}, throw=True)

    [run] = standin.workflow_runs(world.full_name)
    assert (run.display_title, run.event, run.status, run.conclusion) == (
        "mlops-bot train #7",
        "workflow_dispatch",
        "queued",
        None,
    )
    assert run.path == ".github/workflows/mlops-pr.yml"
    assert run.head_branch == "main"
    assert run.head_sha == standin.repo(world.full_name).git.branch_sha("main")
    assert standin.dispatches(world.full_name)[-1].run_id == run.id

    standin.finish_workflow_run(world.full_name, run.id, "failure")
    standin.finish_workflow_run(world.full_name, run.id, "success")  # a finished run stays as it ended
    assert standin.wait_for_deliveries(10)
    hooks = _workflow_hooks(receiver, start)

    assert [h["action"] for h in hooks] == ["requested", "completed"]
    schemas = webhook_schemas()
    for hook in hooks:
        assert schemas.errors("workflow_run", hook["action"], hook) == []
    completed = hooks[-1]["workflow_run"]
    assert (completed["id"], completed["status"], completed["conclusion"]) == (run.id, "completed", "failure")
    assert completed["display_title"] == "mlops-bot train #7"
    assert completed["html_url"].endswith(f"/{world.full_name}/actions/runs/{run.id}")
    assert hooks[-1]["workflow"]["path"] == ".github/workflows/mlops-pr.yml"
    assert hooks[-1]["installation"]["id"] == world.installation_id


def test_redelivery_repeats_the_payload_under_the_same_or_a_new_guid(
    standin: StandIn, world: World, receiver: WebhookReceiver
) -> None:
    _install_templates(standin, world)
    world.bot().get_workflow("mlops-drift.yml").create_dispatch("main", {"model": "churn"}, throw=True)
    [run] = standin.workflow_runs(world.full_name)
    standin.finish_workflow_run(world.full_name, run.id, "success")
    original = standin.deliveries[-1]

    same = standin.redeliver(original.id)
    fresh = standin.redeliver(original.id, new_guid=True)

    assert same.id == original.id and fresh.id != original.id
    assert same.payload == fresh.payload == original.payload


# Run-names of the templates, as GitHub evaluates them for a dispatch (and for a push or schedule run).
@pytest.mark.parametrize(
    ("template", "inputs", "title"),
    [
        ("mlops-pr.yml", {"pr": "12", "model": "", "sha": ""}, "mlops-bot train #12"),
        ("mlops-promote.yml", {"model": "churn", "dry-run": "true", "pr": "5"}, "mlops-bot plan churn #5"),
        (
            "mlops-promote.yml",
            {"model": "churn", "dry-run": "false", "pr": "5"},
            "mlops-bot promote churn #5",
        ),
        ("mlops-promote.yml", {"model": "", "dry-run": "false"}, "mlops-bot promote"),
        ("mlops-drift.yml", {"model": "churn", "issue": "9"}, "mlops-bot drift churn #9"),
        ("mlops-drift.yml", {}, "mlops-bot drift"),
    ],
)
def test_template_run_names(template: str, inputs: dict[str, str], title: str) -> None:
    doc = runs.workflow_document((TEMPLATES / template).read_text())
    context = {"inputs": runs.typed_inputs(runs.declared_inputs(doc), inputs), "github": {}}
    assert runs.display_title(doc, workflow_name="x", context=context) == title


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("inputs.a || 'b'", "b"),
        ("inputs.n || 3", 3),
        ("inputs.yes && 'y' || 'n'", "y"),
        ("inputs.no && 'y' || 'n'", "n"),
        ("'it''s'", "it's"),
        ("github.event.pull_request.number || inputs.n", 0),  # all falsy: the last operand
    ],
)
def test_expression_subset(expression: str, value: object) -> None:
    context = {"inputs": {"a": "", "n": 0, "yes": True, "no": False}, "github": {"event": {}}}
    assert runs.evaluate(expression, context) == value


@pytest.mark.parametrize("expression", ["format('#{0}', inputs.pr)", "inputs.a == 'b'", "inputs.a ||"])
def test_expressions_beyond_the_subset_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="run-name"):
        runs.evaluate(expression, {"inputs": {}})
