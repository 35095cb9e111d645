"""Every command with a dry run, by {local, actions} executor, by {dry run, real} (issue 11).

Each job goes the production way: its typed request queued as a job delivery, the worker's router, `on_job`
(which dispatches the promote workflow with `executor: actions`, or runs the steps); the workflow's promote step
then runs as the reusable action's own script, the local steps as the CLI they are. A dry run leaves the
stand-in, MLflow and the bot's store as they were, and its answer names what the real run then does; the
real run does it.

Real parts: the GitHub stand-in driven by PyGithub, a sqlite MLflow registry, the bot's sqlite store.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.core.events import Delivery
from bot.core.jobs import (
    JobRequest,
    PlanRequest,
    PromoteRequest,
    ReconcileRequest,
    RollbackRequest,
    Step,
    to_params,
)
from bot.handlers import dispatcher
from bot.handlers.context import JOB_EVENT, Context
from bot.settings import Settings
from tests.handlers.fakes import Queue
from tests.jobs.test_effect_ledger import REPO, World, make_world, model_file  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class InProcessRunner:
    """The JobRunner the worker is given: each step is `mlops-bot <args>` run in this process, in a folder holding
    what the job reads of its checkout (dvc.lock at the commit), with the environment the executor gives."""

    def __init__(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        self.world, self.monkeypatch = world, monkeypatch
        self.jobs = 0

    def run(
        self,
        job_id: str,
        *,
        clone_url: str,
        token: str,
        repo: str,
        checkout: str,
        branch: str | None,
        steps: Sequence[Step],
        files: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> list[int]:
        self.jobs += 1
        job_dir = self.world.tmp / f"job{self.jobs}"
        clone = job_dir / "checkout"
        clone.mkdir(parents=True)
        (clone / "dvc.lock").write_text(self.world.env().gh.read_file("dvc.lock", ref=checkout) or "")
        variables = {
            "GITHUB_REPOSITORY": repo,
            "GITHUB_TOKEN": token,
            "GITHUB_API_URL": self.world.standin.base_url,
            "MLFLOW_TRACKING_URI": self.world.store.tracking_uri,
            "MLOPS_BOT_DATABASE_URL": f"sqlite:///{self.world.tmp / 'bot.db'}",
            "MLOPS_BOT_GITHUB_THROTTLE": "false",
            **{k: v.replace("{job_dir}", str(job_dir)) for k, v in (env or {}).items()},
        }
        codes = []
        with self.monkeypatch.context() as m:
            m.chdir(clone)
            for name, value in variables.items():
                m.setenv(name, value)
            for step in steps:
                codes.append(main([a.replace("{job_dir}", str(job_dir)) for a in step.args]))
                assert codes[-1] == 0 or not step.check, f"step {step.args} exited {codes[-1]}"
        return codes

    def close(self) -> None:
        pass


def _action_script(name: str) -> tuple[dict[str, str], str]:
    action = yaml.safe_load((ROOT / "actions" / "promote" / "action.yml").read_text())
    [step] = [s for s in action["runs"]["steps"] if s.get("name") == name]
    return step.get("env", {}), step["run"]


def _run_dispatched_promote(world: World, inputs: Mapping[str, str]) -> dict[str, Any]:
    """The promote workflow's run: its checkout of `inputs.sha || github.sha`, then the action's Promote step."""
    sha = inputs["sha"] or world.standin.repo(REPO).git.branch_sha("main")
    runner = world.tmp / f"runner-{len(list(world.tmp.glob('runner-*')))}"
    checkout, temp = runner / "checkout", runner / "temp"
    checkout.mkdir(parents=True)
    temp.mkdir()
    (checkout / "dvc.lock").write_text(world.env().gh.read_file("dvc.lock", ref=sha) or "")
    declared, script = _action_script("Promote")
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(runner),
        "RUNNER_TEMP": str(temp),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": world.standin.base_url,
        "MLOPS_BOT_GITHUB_THROTTLE": "false",
        "MLOPS_BOT_DATABASE_URL": f"sqlite:///{runner / 'runner.db'}",  # a runner's own, never the bot's
        # The step's env: block, as the workflow template fills it from the dispatch's inputs.
        "MLOPS_BOT": "mlops-bot",
        "MODEL": inputs.get("model", ""),
        "SHA": sha,
        "DRY_RUN": inputs["dry-run"],
        "ENVIRONMENT": inputs.get("environment", ""),
        "TRACKING_URI": world.store.tracking_uri,
        "GITHUB_TOKEN": world.token,
    }
    assert set(declared) <= set(env), f"the action's step reads {set(declared) - set(env)}"
    done = subprocess.run(
        ["bash", "-e", "-c", script], cwd=checkout, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [outcome] = json.loads((temp / "promote.json").read_text())
    # What the run says to the reader: its step summary (the Summarise step), linked from the bot's reply.
    _, summarise = _action_script("Summarise")
    summary, output = temp / "summary.md", temp / "output"
    env |= {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    done = subprocess.run(
        ["bash", "-e", "-c", summarise], cwd=checkout, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {"status": outcome["status"], "said": summary.read_text()}


def _store(world: World) -> list[str]:
    """Every row of the bot's store (deliveries, queue, locks, champion moves, reports)."""
    path = world.tmp / "bot.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


def _request(command: str, world: World, *, dry_run: bool) -> JobRequest:
    """The typed request the bot queues for the command (the handlers' tests check that mapping)."""
    if command == "promote":
        sha = world.standin.repo(REPO).git.branch_sha("main")
        assert sha is not None
        if dry_run:  # `/promote --dry-run` on an issue: a plan for the default branch's head
            return PlanRequest(None, world.issue, "churn", 4242, "2026-12-03T09:00:00Z")
        return PromoteRequest(sha=sha, model="churn", reply_to=world.issue, asked_by="m" + sha)  # the merge's
    if command == "rollback":
        return RollbackRequest(reply_to=world.issue, model="churn", to="1", job_key="c4243", dry_run=dry_run)
    return ReconcileRequest(model="churn", dry_run=dry_run)


# What the real run does, which the dry run's answer must name.
NAMES = {
    "promote": ["a new version of the registered model", "`champion`", "`production`"],
    "rollback": ["v2", "v1", "production"],
    "reconcile": ["`champion` v2 → v1", "(git pins `h1`)", "`previous` → v2"],
}


@pytest.mark.slow
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
@pytest.mark.parametrize("executor", ["local", "actions"])
@pytest.mark.parametrize("command", sorted(NAMES))
def test_a_dry_run_changes_nothing_and_names_what_the_real_run_does(
    make_world: Any,  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    executor: str,
    dry_run: bool,
) -> None:
    world: World = make_world()
    workflow = (ROOT / "templates" / "workflows" / "mlops-promote.yml").read_text()
    world.standin.commit(
        REPO, "main", {".github/workflows/mlops-promote.yml": workflow}, "CI", author="alice"
    )
    if command == "promote":
        world.trained("h1", 0.9)  # trained, never promoted
    else:
        world.trained("h1", 0.9)
        assert world.promote("h1") == "promoted"
        world.trained("h2", 0.91)
        assert world.promote("h2") == "promoted"  # git pins h1 (v1); the champion is v2
    before = world.snapshot(), _store(world)
    dispatched_before = len(world.standin.dispatches(REPO))

    settings = Settings(
        executor=executor,
        github_token=world.token,
        github_base_url=world.standin.base_url,
        github_throttle=False,
        mlflow_tracking_uri=world.store.tracking_uri,
        database_url=f"sqlite:///{world.tmp / 'bot.db'}",
    )
    from bot.adapters.github import GitHubFactory

    runner = InProcessRunner(world, monkeypatch)
    ctx = Context(
        settings=settings, github=GitHubFactory(settings, throttle=False), enqueue=Queue(), executor=runner
    )
    request = _request(command, world, dry_run=dry_run)
    dispatcher(ctx)(
        Delivery(
            id=f"job:{request.KIND}:table",
            event=JOB_EVENT,
            action=request.KIND,
            payload={
                "repository": {"full_name": REPO},
                "installation": {"id": 1},
                "params": to_params(request),
            },
        )
    )
    dispatched = world.standin.dispatches(REPO)[dispatched_before:]
    if executor == "actions" and command == "promote":
        assert runner.jobs == 0, "with executor: actions the promote workflow runs it, not the bot"
        [dispatch] = dispatched
        ran = _run_dispatched_promote(world, dispatch.inputs)
        said = ran["said"]
    else:  # the local executor; rollback and reconcile move the registry from the bot in either mode
        assert runner.jobs == 1 and dispatched == []
        bodies = [c.body or "" for c in world.standin.comments(REPO, world.issue)]
        said = "\n".join(b for b in bodies if "reply kind=promotion " not in b)
        if command == "reconcile":  # its answer is its output: a reconcile that only plans posts nothing
            said = " ".join(capsys.readouterr().out.split())

    after = world.snapshot(), _store(world)
    champion = world.store.version_by_alias("churn", "champion")
    if dry_run:
        snapshot, store = after
        snapshot["comments"] = [c for c in snapshot["comments"] if not _is_plan_answer(c, world)]
        assert (snapshot, store) == before, f"the {command} dry run changed GitHub, MLflow or the store"
        assert all(n in said for n in NAMES[command]), said
        assert (champion.version if champion else None) == (None if command == "promote" else "2")
    else:
        assert champion is not None and champion.version == "1", "what the plan said would happen"
        assert after != before


def _is_plan_answer(comment: tuple[int, str], world: World) -> bool:
    number, body = comment
    return number == world.issue and ("reply kind=plan" in body or "reply kind=rollback-plan" in body)
