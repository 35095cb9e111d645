"""An in-memory RepoGitHub for fast unit tests of the handlers' decisions (no HTTP, no git)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.models import CommentRef, CommitFacts, PullFacts
from bot.core.permissions import Permission


@dataclass
class FakeRepo:
    full_name: str = "acme/model"
    files: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, PullFacts] = field(default_factory=dict)
    permissions: dict[str, Permission] = field(default_factory=dict)
    comments: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    reactions: list[tuple[int, str]] = field(default_factory=list)
    commits: dict[str, CommitFacts] = field(default_factory=dict)
    commits_read: list[str] = field(default_factory=list)
    _next_id: int = 100

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def default_branch(self) -> str:
        return "main"

    def clone_url(self) -> str:
        return "file:///nowhere"

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        return self.files.get(path)

    def pull(self, number: int, *, approvals: bool = False) -> PullFacts:
        return self.pulls[number]

    def commit(self, sha: str) -> CommitFacts:
        self.commits_read.append(sha)
        return self.commits[sha]

    def permission(self, login: str) -> Permission:
        return self.permissions.get(login, Permission.NONE)

    def react(self, comment_id: int, content: str) -> None:
        self.reactions.append((comment_id, content))

    def _add(self, issue_number: int, body: str) -> CommentRef:
        ref = CommentRef(self._id())
        self.comments.setdefault(issue_number, []).append((ref.id, body))
        return ref

    def find_bot_comment(
        self, issue_number: int, marker: str, *, since: str | None = None
    ) -> CommentRef | None:
        return next((CommentRef(i) for i, b in self.comments.get(issue_number, []) if marker in b), None)

    def upsert_comment(
        self, issue_number: int, marker: str, body: str, *, since: str | None = None
    ) -> CommentRef:
        body = body if marker in body else f"{marker}\n{body}"
        thread = self.comments.setdefault(issue_number, [])
        for n, (cid, old) in enumerate(thread):
            if marker in old:
                thread[n] = (cid, body)
                return CommentRef(cid)
        return self._add(issue_number, body)

    def texts(self, issue_number: int) -> list[str]:
        return [b for _, b in self.comments.get(issue_number, [])]

    def __getattr__(self, name: str) -> Any:  # effects a handler must not reach in these tests
        raise AssertionError(f"unexpected GitHub call: {name}")


@dataclass
class FakeFactory:
    repo: FakeRepo

    def for_repo(
        self, full_name: str, installation_id: int | None = None, *, repository: Any = None
    ) -> FakeRepo:
        assert full_name == self.repo.full_name
        return self.repo

    def forget(self, installation_id: int, repositories: Any = None) -> None:
        pass

    def token(
        self,
        installation_id: int | None = None,
        full_name: str | None = None,
        *,
        permissions: Mapping[str, str] | None = None,
    ) -> str:
        return "test-token"


@dataclass
class Queue:
    """Records enqueued jobs and deduplicates by key, as the store does."""

    jobs: dict[str, tuple[str, str | None, dict[str, Any]]] = field(default_factory=dict)

    def __call__(self, key: str, event: str, action: str | None, payload: dict[str, Any]) -> bool:
        if key in self.jobs:
            return False
        self.jobs[key] = (event, action, payload)
        return True

    def kinds(self) -> list[str]:
        return [action or "" for _, action, _ in self.jobs.values()]


def pull(
    number: int = 7,
    *,
    fork: bool = False,
    state: str = "open",
    merged: bool = False,
    head_sha: str = "a" * 40,
) -> PullFacts:
    return PullFacts(
        number=number,
        title="Tune",
        author="alice",
        state=state,
        merged=merged,
        head_sha=head_sha,
        head_ref="tune",
        head_repo="mallory/model" if fork else "acme/model",
        base_ref="main",
        base_sha="b" * 40,
        base_repo="acme/model",
        merge_commit_sha=("c" * 40) if merged else None,
    )
