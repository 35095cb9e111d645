"""`/promote MODEL --canary 10%` from a comment: who may ask, which commit's candidate the job serves, and the
CLI step the local executor runs (its share, its command key, its dry run)."""

from __future__ import annotations

import pytest

from bot.core.jobs import CanaryRequest, from_params
from bot.jobs.plans import plan_job
from tests.handlers.fakes import FakeRepo, Queue
from tests.handlers.test_handlers import comment, dispatch, queue, repo  # noqa: F401 (fixtures)


def _queued(queue: Queue) -> tuple[CanaryRequest, tuple[str, ...], str]:  # noqa: F811 (the fixture's name)
    [(_event, kind, payload)] = queue.jobs.values()
    request = from_params(kind, payload["params"])
    assert isinstance(request, CanaryRequest)
    checkout, _branch, [step], _files, _env = plan_job(FakeRepo(), request)
    return request, step.args, checkout


# an open pull request's head; a merged one's merge commit
@pytest.mark.parametrize(("number", "sha"), [(7, "a" * 40), (9, "c" * 40)])
def test_a_canary_serves_the_pull_requests_candidate(
    repo: FakeRepo,  # noqa: F811
    queue: Queue,  # noqa: F811
    number: int,
    sha: str,
) -> None:
    dispatch(repo, queue, comment("/promote churn --canary 10%", number=number, comment_id=901))
    request, args, checkout = _queued(queue)
    assert (request.sha, request.percent, request.pr, request.dry_run) == (sha, "10", number, False)
    assert checkout == sha  # the job checks out the commit whose dvc.lock names the candidate
    assert args[:3] == ("canary", "--model", "churn")
    assert args[args.index("--percent") + 1] == "10" and args[args.index("--sha") + 1] == sha
    assert args[args.index("--key") + 1] == "c901" and "--dry-run" not in args


def test_a_canary_dry_run_reaches_the_job_as_a_dry_run(repo: FakeRepo, queue: Queue) -> None:  # noqa: F811
    dispatch(repo, queue, comment("/promote --canary=2.5 --dry-run", comment_id=902))
    request, args, _ = _queued(queue)
    assert request.dry_run and request.percent == "2.5" and "--dry-run" in args


def test_a_forks_candidate_is_not_served_before_it_merges(repo: FakeRepo, queue: Queue) -> None:  # noqa: F811
    dispatch(repo, queue, comment("/promote churn --canary 10%", number=8))
    assert queue.jobs == {}
    [answer] = repo.texts(8)
    assert "fork" in answer and "merged" in answer


def test_a_canary_needs_the_promote_permission(repo: FakeRepo, queue: Queue) -> None:  # noqa: F811
    # wendy has write; promote (and so a canary) needs maintain
    dispatch(repo, queue, comment("/promote churn --canary 10%", user="wendy"))
    assert queue.jobs == {}
    assert "maintain" in repo.texts(7)[0]


def test_a_canary_is_asked_on_a_pull_request(repo: FakeRepo, queue: Queue) -> None:  # noqa: F811
    dispatch(repo, queue, comment("/promote churn --canary 10%", on_pull=False))
    assert queue.jobs == {}
    assert repo.texts(7)
