"""Workflow dispatches and runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.standin import runs
from bot.standin.domain.events import Events
from bot.standin.domain.state import StandInError
from bot.standin.model import Repo, WorkflowRun, now_iso


class Workflows(Events):
    """Workflow dispatches and the runs they start (never executed: a test finishes them)."""

    def start_workflow_run(
        self,
        repo: Repo,
        workflow: Mapping[str, Any],
        text: str,
        ref: str,
        inputs: Mapping[str, Any],
        *,
        actor: str,
    ) -> WorkflowRun:
        """What a workflow_dispatch starts: a queued run titled by the workflow's `run-name`.

        `workflow` is the REST shape of the workflow, `text` its file. Emits `workflow_run.requested`.
        """
        branch = ref.removeprefix("refs/heads/")
        sha = repo.git.branch_sha(branch) or repo.git.resolve_commit(ref) or ""
        doc = runs.workflow_document(text)
        typed = runs.typed_inputs(runs.declared_inputs(doc), inputs)
        context = {
            "inputs": typed,
            "github": {
                "event_name": "workflow_dispatch",
                "event": {"inputs": dict(inputs), "ref": ref},
                "ref": ref if ref.startswith("refs/") else f"refs/heads/{ref}",
                "ref_name": branch,
                "sha": sha,
                "repository": repo.full_name,
                "actor": actor,
            },
        }
        run = WorkflowRun(
            id=self.ids(),
            run_number=1 + sum(1 for r in repo.workflow_runs.values() if r.workflow_id == workflow["id"]),
            workflow_id=int(workflow["id"]),
            workflow_name=str(workflow["name"]),
            path=str(workflow["path"]),
            display_title=runs.display_title(doc, workflow_name=str(workflow["name"]), context=context),
            event="workflow_dispatch",
            head_branch=branch,
            head_sha=sha,
            actor=actor,
        )
        run.pending_environments = self._protected_environments(repo, doc, context)
        if run.pending_environments:
            run.status, run.waiting_since = "waiting", run.created_at
        repo.workflow_runs[run.id] = run
        self._emit_workflow_run(repo, run, "requested")
        return run

    def _protected_environments(
        self, repo: Repo, doc: Mapping[str, Any], context: Mapping[str, Any]
    ) -> list[str]:
        """The environments the run's jobs declare (`jobs.<id>.environment`, a name or `{name: ...}`, with
        expressions) that have protection rules: GitHub holds the run until they pass."""
        names: list[str] = []
        for job in (doc.get("jobs") or {}).values():
            declared = job.get("environment") if isinstance(job, dict) else None
            if isinstance(declared, dict):
                declared = declared.get("name")
            if not isinstance(declared, str) or not declared.strip():
                continue
            name = runs.render(declared, context)
            env = next((e for n, e in repo.environments.items() if n.lower() == name.lower()), None)
            if env is not None and (env.reviewers or env.wait_timer) and env.name not in names:
                names.append(env.name)
        return names

    def pass_wait_timers(self, full_name: str, run_id: int) -> WorkflowRun:
        """Test API: the wait timers of a waiting run have run out (the stand-in keeps no clock): environments
        with no required reviewer stop holding it."""
        with self.lock:
            repo = self._repo(full_name)
            run = repo.workflow_runs[run_id]
            run.pending_environments = [n for n in run.pending_environments if repo.environments[n].reviewers]
            if run.status == "waiting" and not run.pending_environments:
                run.status = "queued"
            return run

    def finish_workflow_run(self, full_name: str, run_id: int, conclusion: str = "success") -> WorkflowRun:
        """Test API: the run ends with `conclusion` (success, failure, cancelled, ...); emits
        `workflow_run.completed`. Finishing a finished run changes nothing and sends nothing."""
        with self.lock:
            repo = self._repo(full_name)
            run = repo.workflow_runs.get(run_id)
            if run is None:
                raise StandInError(404, "Not Found")
            if run.status == "completed":
                return run
            run.status = "completed"
            run.conclusion = conclusion
            run.updated_at = now_iso()
            self._emit_workflow_run(repo, run, "completed")
            return run

    def dispatches(self, full_name: str) -> list[Any]:
        with self.lock:
            return list(self._repo(full_name).dispatches)

    def workflow_runs(self, full_name: str) -> list[WorkflowRun]:
        """Runs started by dispatches, oldest first."""
        with self.lock:
            return list(self._repo(full_name).workflow_runs.values())
