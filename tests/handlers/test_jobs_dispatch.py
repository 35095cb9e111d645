"""`executor: actions`: each heavy job is a workflow_dispatch of the workflow `mlops-bot init` writes, with only
the inputs that workflow declares (GitHub answers 422 to an undeclared input)."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.core.config import CONFIG_PATH
from bot.core.events import Delivery
from bot.handlers.context import JOB_EVENT, Context
from bot.handlers.jobs import WORKFLOWS, on_job
from bot.resources import template_path
from bot.settings import Settings
from tests.handlers.fakes import FakeFactory, FakeRepo, Queue, pull


class DispatchingRepo(FakeRepo):
    def __init__(self) -> None:
        super().__init__(files={CONFIG_PATH: "models: []\n"}, pulls={7: pull(7, head_sha="9" * 40)})
        self.dispatches: list[tuple[str, str, dict[str, str]]] = []

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Any) -> None:
        self.dispatches.append((workflow, ref, dict(inputs)))


def declared_inputs(workflow: str) -> set[str]:
    doc = YAML(typ="safe").load(template_path("workflows", workflow).read_text())
    on = doc.get("on") or doc.get(True)  # YAML 1.1 reads a bare `on` key as True
    return set((on["workflow_dispatch"] or {}).get("inputs", {}))


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("train", {"pr": 7, "model": None}),
        ("card", {"pr": 7, "model": "churn"}),
        ("plan", {"pr": 7, "reply_to": 7, "model": None}),
        ("promote", {"pr": 7, "sha": "c" * 40, "model": None}),
        ("drift", {"reply_to": 3, "model": "churn"}),
    ],
)
def test_heavy_jobs_dispatch_their_workflow_with_declared_inputs(kind: str, params: dict[str, Any]) -> None:
    repo = DispatchingRepo()
    ctx = Context(settings=Settings(executor="actions"), github=FakeFactory(repo), enqueue=Queue())
    delivery = Delivery(
        id=f"job:{kind}:x",
        event=JOB_EVENT,
        action=kind,
        payload={"repository": {"full_name": repo.full_name}, "installation": {"id": 1}, "params": params},
    )
    on_job(ctx, delivery)
    [(workflow, ref, inputs)] = repo.dispatches
    assert workflow == WORKFLOWS[kind][0] and ref == "main"
    assert set(inputs) <= declared_inputs(workflow), f"{kind} sends inputs {workflow} does not declare"
    assert all(isinstance(v, str) for v in inputs.values())
    if kind in ("train", "card"):
        assert inputs["sha"] == "9" * 40, "the dispatched run trains exactly the head the bot checked"
