"""The stand-in's state: what GitHub would keep in its database besides the git objects."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.standin.gitstore import GitRepo


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Ids:
    """One counter for every kind of object, so ids never collide across kinds (as on GitHub)."""

    def __init__(self, start: int = 1000) -> None:
        self._next = itertools.count(start)

    def __call__(self) -> int:
        return next(self._next)


@dataclass
class User:
    id: int
    login: str
    type: str  # "User" | "Bot"
    created_at: str = field(default_factory=now_iso)


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None
    default: bool = False


@dataclass
class Reaction:
    id: int
    content: str
    user: str
    created_at: str = field(default_factory=now_iso)


@dataclass
class Comment:
    id: int
    issue_number: int
    body: str
    user: str
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Review:
    id: int
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED
    body: str
    commit_id: str
    submitted_at: str = field(default_factory=now_iso)


@dataclass
class Issue:
    """An issue, or the issue half of a pull request (GitHub numbers both from one sequence)."""

    id: int
    number: int
    title: str
    body: str | None
    user: str
    state: str = "open"
    state_reason: str | None = None
    labels: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None
    closed_by: str | None = None
    is_pull: bool = False
    comments: list[Comment] = field(default_factory=list)


@dataclass
class Pull:
    id: int
    number: int
    head_repo: str  # full name
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    draft: bool = False
    maintainer_can_modify: bool = False
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    reviews: list[Review] = field(default_factory=list)


@dataclass
class CheckRun:
    id: int
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    started_at: str | None
    completed_at: str | None
    output: dict[str, Any]
    details_url: str | None
    external_id: str | None
    app_id: int | None


@dataclass
class Status:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str = field(default_factory=now_iso)


@dataclass
class DeploymentStatus:
    id: int
    state: str
    description: str
    log_url: str
    environment_url: str
    environment: str
    creator: str
    created_at: str = field(default_factory=now_iso)


@dataclass
class Deployment:
    id: int
    ref: str
    sha: str
    task: str
    environment: str
    payload: Any
    description: str | None
    creator: str
    transient_environment: bool
    production_environment: bool
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    statuses: list[DeploymentStatus] = field(default_factory=list)


@dataclass
class Environment:
    id: int
    name: str
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    # Protection rules (PUT /repos/{o}/{r}/environments/{name}); each rule gets its own id, as GitHub's do.
    wait_timer: int = 0  # minutes
    wait_timer_rule_id: int = 0
    reviewers: list[str] = field(default_factory=list)  # user logins (the stand-in serves no teams)
    reviewers_rule_id: int = 0
    prevent_self_review: bool = False


@dataclass
class Dispatch:
    """A workflow_dispatch the stand-in received (GitHub would start a run; we record it)."""

    workflow: str
    ref: str
    inputs: dict[str, Any]
    actor: str
    at: str = field(default_factory=now_iso)
    run_id: int | None = None  # the workflow run GitHub started for it


@dataclass
class WorkflowRun:
    """A run of a workflow file; the stand-in never executes it: a test finishes it with a conclusion."""

    id: int
    run_number: int
    workflow_id: int
    workflow_name: str
    path: str  # .github/workflows/<file>
    display_title: str  # the workflow's `run-name`, evaluated
    event: str
    head_branch: str
    head_sha: str
    actor: str
    status: str = "queued"
    conclusion: str | None = None
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    # Environments its jobs declare whose protection rules hold it ("waiting") until reviewed or timed out.
    pending_environments: list[str] = field(default_factory=list)
    waiting_since: str = ""
    reviews: list[EnvironmentReview] = field(default_factory=list)


@dataclass
class EnvironmentReview:
    """One entry of a run's deployment review log (`GET .../actions/runs/{run_id}/approvals`)."""

    environments: list[str]
    state: str  # approved | rejected
    user: str
    comment: str


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    git: GitRepo
    default_branch: str
    fork_of: str | None = None
    private: bool = False
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    pushed_at: str = field(default_factory=now_iso)
    permissions: dict[str, str] = field(default_factory=dict)  # login -> role_name
    issues: dict[int, Issue] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)  # lower-cased name -> label
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    statuses: list[Status] = field(default_factory=list)
    deployments: dict[int, Deployment] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)
    dispatches: list[Dispatch] = field(default_factory=list)
    workflow_runs: dict[int, WorkflowRun] = field(default_factory=dict)
    known_heads: dict[str, str] = field(default_factory=dict)  # branch -> sha last announced by a push event
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def path(self) -> Path:
        return self.git.path

    def take_number(self) -> int:
        number = self.next_number
        self.next_number += 1
        return number

    def comment(self, comment_id: int) -> Comment | None:
        for issue in self.issues.values():
            for comment in issue.comments:
                if comment.id == comment_id:
                    return comment
        return None


@dataclass
class Installation:
    id: int
    app_id: int
    account: str
    repos: set[str] = field(default_factory=set)
    created_at: str = field(default_factory=now_iso)


@dataclass
class App:
    id: int
    slug: str
    owner: str
    public_key_pem: str | None = None
    created_at: str = field(default_factory=now_iso)

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Token:
    value: str
    login: str
    installation_id: int | None = None
    expires_at: float | None = None  # epoch seconds; None never expires
    # An installation token may be narrowed to some of the installation's repositories and permissions
    # (`repositories` / `permissions` of POST /app/installations/{id}/access_tokens); None: all of them.
    repositories: frozenset[str] | None = None
    permissions: dict[str, str] | None = None


# Roles in GitHub order; the legacy `permission` field folds maintain into write and triage into read.
ROLES = ["none", "read", "triage", "write", "maintain", "admin"]
LEGACY_PERMISSION = {
    "none": "none",
    "read": "read",
    "triage": "read",
    "write": "write",
    "maintain": "write",
    "admin": "admin",
}
