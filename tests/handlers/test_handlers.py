"""The handlers' decisions, table by table, against an in-memory GitHub: who may do what, and what gets queued."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.core.config import CONFIG_PATH
from bot.core.events import Delivery
from bot.core.models import CommitFacts
from bot.core.permissions import Permission
from bot.core.pushes import BOT_GIT_EMAIL, lock_commit_message
from bot.handlers import dispatcher
from bot.handlers.context import Context
from bot.settings import Settings
from tests.handlers.fakes import FakeFactory, FakeRepo, Queue, pull

CONFIG = """\
models:
  - name: churn
    stage: train
    output: model.pkl
    metrics:
      - name: f1
        tolerance: 0.01
"""


@pytest.fixture
def repo() -> FakeRepo:
    return FakeRepo(
        files={CONFIG_PATH: CONFIG},
        pulls={7: pull(7), 8: pull(8, fork=True), 9: pull(9, state="closed", merged=True)},
        permissions={"alice": Permission.ADMIN, "wendy": Permission.WRITE, "bob": Permission.READ},
    )


@pytest.fixture
def queue() -> Queue:
    return Queue()


class History:
    """The `pull_request` deliveries the bot has stored, as the store's `pull_head_events` gives them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def pull_head_events(self, repo: str, number: int, limit: int = 2000) -> list[dict[str, Any]]:
        return [e for e in self.events if e["pull_request"]["number"] == number]


HISTORY = History()


@pytest.fixture(autouse=True)
def _fresh_history() -> None:
    HISTORY.events.clear()


def dispatch(repo: FakeRepo, queue: Queue, delivery: Delivery) -> None:
    if delivery.event == "pull_request":
        HISTORY.events.append(delivery.payload)
    ctx = Context(settings=Settings(), github=FakeFactory(repo), enqueue=queue, history=HISTORY)
    dispatcher(ctx)(delivery)  # the worker's own routing


def comment(
    body: str,
    *,
    user: str = "alice",
    number: int = 7,
    on_pull: bool = True,
    user_type: str = "User",
    delivery_id: str = "d1",
    comment_id: int = 555,
    created_at: str = "2026-01-01T00:10:00Z",
) -> Delivery:
    issue: dict[str, Any] = {"number": number}
    if on_pull:
        issue["pull_request"] = {"url": "x"}
    return Delivery(
        id=delivery_id,
        event="issue_comment",
        action="created",
        payload={
            "repository": {"full_name": "acme/model"},
            "installation": {"id": 1},
            "sender": {"login": user, "type": user_type},
            "issue": issue,
            "comment": {"id": comment_id, "body": body, "user": {"login": user}, "created_at": created_at},
        },
    )


def pr_event(
    action: str,
    number: int = 7,
    *,
    fork: bool = False,
    merged: bool = False,
    sha: str = "a" * 40,
    delivery_id: str = "p1",
    updated_at: str = "2026-01-01T00:00:00Z",
    sender: str = "alice",
    before: str = "",
) -> Delivery:
    return Delivery(
        id=delivery_id,
        event="pull_request",
        action=action,
        payload={
            "repository": {"full_name": "acme/model"},
            "installation": {"id": 1},
            "sender": {"login": sender, "type": "Bot" if sender.endswith("[bot]") else "User"},
            **({"before": before, "after": sha} if before else {}),
            "pull_request": {
                "number": number,
                "merged": merged,
                "merge_commit_sha": "c" * 40 if merged else None,
                **({"merged_at": "2026-01-02T03:04:05Z"} if merged else {}),
                "updated_at": updated_at,
                "head": {
                    "sha": sha,
                    "ref": "tune",
                    "repo": {"full_name": "mallory/model" if fork else "acme/model"},
                },
                "base": {"ref": "main", "repo": {"full_name": "acme/model"}},
            },
        },
    )


def test_help_is_acknowledged_and_answered(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, comment("/help"))
    assert repo.reactions == [(555, "eyes")]
    [answer] = repo.texts(7)
    assert "/promote" in answer and "/rollback" in answer
    assert queue.jobs == {}


@pytest.mark.parametrize(
    ("body", "user", "kind"),
    [
        ("/train", "wendy", "train"),
        ("/card", "bob", "card"),
        ("/promote --dry-run", "alice", "plan"),
        ("/rollback", "alice", "rollback"),
        ("/rollback --to 3", "alice", "rollback"),
        ("/drift", "wendy", "drift"),
    ],
)
def test_allowed_commands_queue_one_job(
    repo: FakeRepo, queue: Queue, body: str, user: str, kind: str
) -> None:
    dispatch(repo, queue, comment(body, user=user))
    assert queue.kinds() == [kind]


@pytest.mark.parametrize(
    ("body", "user", "needs", "has"),
    [
        ("/train", "bob", "write", "read"),
        ("/promote --dry-run", "wendy", "maintain", "write"),
        ("/rollback", "wendy", "maintain", "write"),
        ("/drift", "bob", "write", "read"),
        ("/train", "stranger", "write", "none"),
    ],
)
def test_insufficient_permission_is_refused_with_a_reason(
    repo: FakeRepo, queue: Queue, body: str, user: str, needs: str, has: str
) -> None:
    dispatch(repo, queue, comment(body, user=user))
    assert queue.jobs == {}
    [answer] = repo.texts(7)
    verb = body.split()[0]
    assert (
        f"@{user}, I did not run that: `{verb}` needs {needs} permission or higher on this repository; you have {has}."
        in answer
    )


def test_bots_and_quoted_commands_are_ignored(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, comment("/train", user="mlops-bot[bot]", user_type="Bot"))
    dispatch(repo, queue, comment("/train", user="dependabot[bot]", user_type="Bot"))
    dispatch(repo, queue, comment("> /train\nI agree", user="alice"))
    dispatch(repo, queue, comment("```\n/train\n```", user="alice"))
    assert queue.jobs == {} and repo.texts(7) == [] and repo.reactions == []


def test_promote_without_dry_run_on_an_open_pr_explains_that_merging_promotes(
    repo: FakeRepo, queue: Queue
) -> None:
    dispatch(repo, queue, comment("/promote"))
    assert queue.jobs == {}
    [answer] = repo.texts(7)
    assert "merg" in answer.lower()


def test_unknown_model_lists_the_configured_ones(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, comment("/train fraud", user="wendy"))
    assert queue.jobs == {}
    assert "churn" in repo.texts(7)[0]


def test_broken_config_names_the_line(repo: FakeRepo, queue: Queue) -> None:
    repo.files[CONFIG_PATH] = "models:\n  - name: churn\n    stage: [unclosed\n"
    dispatch(repo, queue, comment("/train", user="wendy"))
    assert queue.jobs == {}
    assert "line" in repo.texts(7)[0] and CONFIG_PATH in repo.texts(7)[0]


def test_same_repo_pr_trains_once_per_head(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, pr_event("opened", delivery_id="p1"))
    dispatch(repo, queue, pr_event("opened", delivery_id="p1-redelivered"))  # same head: same job key
    dispatch(repo, queue, pr_event("synchronize", sha="d" * 40, delivery_id="p2"))
    assert queue.kinds() == ["train", "train"]


def lock_commit(sha: str, parent: str, **changes: Any) -> CommitFacts:
    facts = CommitFacts(sha=sha, parents=(parent,), author_email=BOT_GIT_EMAIL, committer_email=BOT_GIT_EMAIL,
                        message=lock_commit_message(["churn"]), files=("dvc.lock",))  # fmt: skip
    return dataclasses.replace(facts, **changes)


def test_the_bots_own_lock_commit_is_not_trained_again(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, pr_event("opened", delivery_id="p1"))
    assert queue.kinds() == ["train"]
    # The training pushed dvc.lock on top of the trained head, with the App's token (or the workflow's).
    for bot in ("mlops-bot[bot]", "github-actions[bot]"):
        lock = ("d" if bot.startswith("mlops") else "e") * 40
        repo.commits[lock] = lock_commit(lock, "a" * 40)
        dispatch(
            repo, queue, pr_event("synchronize", sha=lock, before="a" * 40, sender=bot, delivery_id=lock)
        )
        assert queue.kinds() == ["train"], f"the lock commit pushed by {bot} was queued for training"
    assert repo.commits_read == ["d" * 40, "e" * 40]  # one read of the pushed commit, nothing else


@pytest.mark.parametrize(
    "what, sender, changes",
    [
        ("a person's push is trained without asking what it holds", "alice", {}),
        ("code beside dvc.lock", "mlops-bot[bot]", {"files": ("dvc.lock", "src/train.py")}),
        ("another author", "mlops-bot[bot]", {"author_email": "mallory@example.com"}),
        ("another message", "mlops-bot[bot]", {"message": "Update dvc.lock"}),
        ("not on the commit the push started from", "mlops-bot[bot]", {"parents": ("f" * 40,)}),
        ("a merge commit", "mlops-bot[bot]", {"parents": ("a" * 40, "f" * 40)}),
        ("nothing changed", "mlops-bot[bot]", {"files": ()}),
    ],
)
def test_any_other_push_is_trained(
    repo: FakeRepo, queue: Queue, what: str, sender: str, changes: dict[str, Any]
) -> None:
    repo.commits["d" * 40] = lock_commit("d" * 40, "a" * 40, **changes)
    dispatch(
        repo, queue, pr_event("synchronize", sha="d" * 40, before="a" * 40, sender=sender, delivery_id="p2")
    )
    assert queue.kinds() == ["train"], what
    assert repo.commits_read == ([] if sender == "alice" else ["d" * 40])


def test_a_lock_commit_of_a_subfolder_project_is_recognised(repo: FakeRepo, queue: Queue) -> None:
    repo.commits["d" * 40] = lock_commit("d" * 40, "a" * 40, files=("models/churn/dvc.lock",))
    dispatch(repo, queue, pr_event("synchronize", sha="d" * 40, before="a" * 40, sender="mlops-bot[bot]"))
    assert queue.jobs == {}


def test_fork_pr_waits_for_ok_to_test_bound_to_the_head_sha(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, pr_event("opened", 8, fork=True))
    assert queue.jobs == {}
    assert any("/ok-to-test" in t for t in repo.texts(8))

    dispatch(repo, queue, comment("/ok-to-test", user="bob", number=8, comment_id=1))  # read-only: refused
    assert queue.jobs == {}

    dispatch(repo, queue, comment("/ok-to-test", user="wendy", number=8, comment_id=2))
    assert queue.kinds() == ["train"]

    # The same head redelivered trains no more; a new push needs a new /ok-to-test.
    dispatch(repo, queue, pr_event("synchronize", 8, fork=True, delivery_id="p9"))
    assert queue.kinds() == ["train"]
    repo.pulls[8] = pull(8, fork=True, head_sha="e" * 40)
    dispatch(repo, queue, pr_event("synchronize", 8, fork=True, sha="e" * 40, delivery_id="p10"))
    assert queue.kinds() == ["train"]
    dispatch(repo, queue, comment("/train", user="wendy", number=8, comment_id=3))
    assert queue.kinds() == ["train"], "/train on an unapproved fork head must not run fork code"


def test_merge_promotes_once_per_merge_commit(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, pr_event("closed", 9, merged=True, delivery_id="m1"))
    dispatch(repo, queue, pr_event("closed", 9, merged=True, delivery_id="m1-again"))
    dispatch(repo, queue, pr_event("closed", 7, merged=False, delivery_id="m2"))
    assert queue.kinds() == ["promote"]
    [(_, _, payload)] = queue.jobs.values()
    # what asked for it, and when: the reply to the merge is looked for among the comments since the merge only
    assert payload["params"] == {"sha": "c" * 40, "pr": 9, "model": None, "reply_to": None,
                                 "asked_by": "mcccccccccccc", "asked_at": "2026-01-02T03:04:05Z"}  # fmt: skip


def test_repository_without_config_stays_quiet_on_events(repo: FakeRepo, queue: Queue) -> None:
    repo.files.clear()
    dispatch(repo, queue, pr_event("opened"))
    assert queue.jobs == {} and repo.texts(7) == []


# -- issue 18, finding 2: an approval is bound to the head at the comment's creation ----------------------
def test_a_push_in_the_same_second_as_the_approval_is_not_approved(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, pr_event("opened", 8, fork=True, updated_at="2026-01-01T00:00:00Z"))
    repo.pulls[8] = pull(8, fork=True, head_sha="e" * 40)
    sync = pr_event(
        "synchronize", 8, fork=True, sha="e" * 40, delivery_id="p2", updated_at="2026-01-01T00:10:00Z"
    )
    dispatch(repo, queue, sync)
    dispatch(repo, queue, comment("/ok-to-test", user="wendy", number=8, comment_id=2))
    assert queue.jobs == {}
    assert any("same second as the approval" in t for t in repo.texts(8))


def test_a_push_after_the_approval_is_not_trained(repo: FakeRepo, queue: Queue) -> None:
    """The comment is handled after a later push reached GitHub: the approved head is no longer the head."""
    dispatch(repo, queue, pr_event("opened", 8, fork=True))
    repo.pulls[8] = pull(8, fork=True, head_sha="e" * 40)  # pushed at 00:10:01, after the comment
    dispatch(repo, queue, comment("/ok-to-test", user="wendy", number=8, comment_id=2))
    assert queue.jobs == {}
    assert any("the head moved after the approval" in t for t in repo.texts(8))


def test_an_approval_queues_exactly_the_approved_sha_once_per_comment(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, pr_event("opened", 8, fork=True))
    approval = comment("/ok-to-test", user="wendy", number=8, comment_id=2, delivery_id="d1")
    dispatch(repo, queue, approval)
    [(_, _, payload)] = queue.jobs.values()
    assert payload["params"]["sha"] == "a" * 40
    before = list(repo.texts(8))
    # The same comment again under a new delivery id, after a new push: a duplicate, nothing approved.
    repo.pulls[8] = pull(8, fork=True, head_sha="e" * 40)
    dispatch(repo, queue, pr_event("synchronize", 8, fork=True, sha="e" * 40, delivery_id="p2",
                                   updated_at="2026-01-01T00:20:00Z"))  # fmt: skip
    replayed = comment("/ok-to-test", user="wendy", number=8, comment_id=2, delivery_id="d1-replayed")
    dispatch(repo, queue, replayed)
    assert len(queue.jobs) == 1
    assert [
        t for t in repo.texts(8) if "ok-to-test" in t and t not in before and "kind=fork-waiting" not in t
    ] == []


def test_an_approval_with_no_record_of_the_head_runs_nothing(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, comment("/ok-to-test", user="wendy", number=8, comment_id=2))
    assert queue.jobs == {}
    assert any("no record of this pull request's head" in t for t in repo.texts(8))


# -- issue 11 defect 4: the 👀 acknowledgement is cosmetic ------------------------------------------------------
class UnreactableRepo(FakeRepo):
    """GitHub refuses the reaction (the comment was deleted meanwhile: 404), as PyGithub raises it."""

    def react(self, comment_id: int, content: str) -> None:
        from github import GithubException

        raise GithubException(404, {"message": "Not Found"}, None)


def test_a_reaction_github_refuses_never_stops_the_command(repo: FakeRepo, queue: Queue) -> None:
    unreactable = UnreactableRepo(files=repo.files, pulls=repo.pulls, permissions=repo.permissions)
    dispatch(unreactable, queue, comment("/help"))
    [answer] = unreactable.texts(7)
    assert "/promote" in answer and "/rollback" in answer
    dispatch(unreactable, queue, comment("/train", delivery_id="d2", comment_id=556))
    assert queue.kinds() == ["train"]
