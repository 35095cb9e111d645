"""REST handlers: deployment reviews of a workflow run whose job declares a protected environment.

A dispatched run whose job declares an environment with required reviewers (or a wait timer) waits
(`status: waiting`) until a required reviewer approves it here; a rejection fails it.
https://docs.github.com/rest/actions/workflow-runs#review-pending-deployments-for-a-workflow-run
"""

from __future__ import annotations

from bot.standin import shapes
from bot.standin.domain.state import StandInError
from bot.standin.model import Environment, EnvironmentReview, Repo, WorkflowRun
from bot.standin.rest.call import Call, Reply, iso_now, op
from bot.standin.shapes import reviews as review_shapes


def _run(repo: Repo, run_id: int) -> WorkflowRun:
    run = repo.workflow_runs.get(run_id)
    if run is None:
        raise StandInError(404, "Not Found")
    return run


def _pending(repo: Repo, run: WorkflowRun) -> list[Environment]:
    return [repo.environments[name] for name in run.pending_environments]


@op("actions/get-pending-deployments-for-run")
def get_pending_deployments(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    run = _run(repo, call.params["run_id"])
    viewer = call.token.login if call.token is not None else None
    return Reply(
        200,
        [
            review_shapes.pending_deployment(
                s.urls, repo.full_name, env, s.users, since=run.waiting_since, viewer=viewer
            )
            for env in _pending(repo, run)
        ],
    )


@op("actions/review-pending-deployments-for-run")
def review_pending_deployments(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    run = _run(repo, call.params["run_id"])
    body = call.body
    pending = {env.id: env for env in _pending(repo, run)}
    chosen = []
    for env_id in body["environment_ids"]:
        env = pending.get(int(env_id))
        if env is None:
            raise StandInError(422, f"Environment {env_id} is not waiting for a review in this run")
        if call.login not in env.reviewers:  # "Required reviewers ... can use this endpoint"
            raise StandInError(422, f"{call.login} is not a required reviewer of {env.name}")
        chosen.append(env)
    run.reviews.append(
        EnvironmentReview([e.name for e in chosen], body["state"], call.login, body["comment"])
    )
    run.updated_at = iso_now()
    if body["state"] == "rejected":
        run.pending_environments = []
        s.finish_workflow_run(repo.full_name, run.id, "failure")
        return Reply(200, [])
    run.pending_environments = [n for n in run.pending_environments if n not in {e.name for e in chosen}]
    if not run.pending_environments:
        run.status = "queued"
    # GitHub records the approved job as a deployment of each environment.
    made = [
        s.new_deployment(
            repo,
            ref=run.head_branch,
            sha=run.head_sha,
            task="deploy",
            environment=env.name,
            payload={},
            description=None,
            creator=run.actor,
            transient_environment=False,
            production_environment=env.name.lower() == "production",
        )
        for env in chosen
    ]
    return Reply(200, [shapes.deployment(s.urls, repo.full_name, d, s.users) for d in made])


@op("actions/get-reviews-for-run")
def get_reviews(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    run = _run(repo, call.params["run_id"])
    return Reply(
        200,
        [
            review_shapes.review(
                s.urls, repo.full_name, entry, [repo.environments[n] for n in entry.environments], s.users
            )
            for entry in run.reviews
        ],
    )
