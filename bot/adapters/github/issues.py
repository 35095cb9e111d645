"""Comments and issues: found by the bot's hidden marker and authorship, then edited or created."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.adapters.github.base import RepoBase
from bot.adapters.github.errors import check_body
from bot.core.models import CommentRef, IssueRef


class CommentsAndIssues(RepoBase):
    def react(self, comment_id: int, content: str) -> None:
        # One POST without fetching the comment first; GitHub answers 200 for a repeated reaction.
        url = f"{self.repo.url}/issues/comments/{comment_id}/reactions"
        self._call(
            "reacting to a comment",
            lambda: self.repo.requester.requestJsonAndCheck("POST", url, input={"content": content}),
        )

    def find_bot_comment(self, issue_number: int, marker: str) -> CommentRef | None:
        def find() -> CommentRef | None:
            for c in self.repo.get_issue(issue_number).get_comments():
                if c.user is not None and c.user.login == self.bot_login and marker in (c.body or ""):
                    return CommentRef(c.id, c.html_url)
            return None

        return self._call(f"reading the comments of #{issue_number}", find)

    def upsert_comment(self, issue_number: int, marker: str, body: str) -> CommentRef:
        if marker not in body:
            body = f"{marker}\n{body}"
        check_body("The comment", body)

        def upsert() -> CommentRef:
            issue = self.repo.get_issue(issue_number)
            mine = [
                c
                for c in issue.get_comments()
                if c.user is not None and c.user.login == self.bot_login and marker in (c.body or "")
            ]
            if not mine:
                made = issue.create_comment(body)
                return CommentRef(made.id, made.html_url)
            keep, extra = mine[0], mine[1:]
            if keep.body != body:
                keep.edit(body)
            for duplicate in extra:  # left by an earlier lost response: one comment per marker
                duplicate.delete()
            return CommentRef(keep.id, keep.html_url)

        return self._call(f"updating the comment on #{issue_number}", upsert)

    def _issues_with(self, marker: str, state: str) -> Iterable[Any]:
        from github.Issue import Issue
        from github.PaginatedList import PaginatedList

        # Listed by creator: the bot's own issues only, one page however many humans opened. Only the
        # bot's own count anyway: anyone who can open an issue could plant the marker with forged state
        # (a drift streak, a retrain PR) otherwise. A pull request is told by its `html_url` (`/pull/N`):
        # a listed issue lacks `pull_request`, and reading it makes PyGithub fetch the issue in full.
        listed = PaginatedList(
            Issue,
            self.repo.requester,
            f"{self.repo.url}/issues",
            {"state": state, "creator": self.bot_login},
        )
        for issue in listed:
            if marker not in (issue.body or "") or not self._mine(issue.user):
                continue
            if "/pull/" in str(issue.html_url):
                continue
            yield issue

    def find_issue(self, marker: str) -> IssueRef | None:
        def find() -> IssueRef | None:
            for state in ("open", "closed"):
                for issue in self._issues_with(marker, state):
                    return IssueRef(issue.number, issue.html_url, issue.state, issue.body or "")
            return None

        return self._call("finding an issue by marker", find)

    def upsert_issue(
        self, marker: str, title: str, body: str, labels: list[str], *, reopen: bool = True
    ) -> IssueRef:
        if marker not in body:
            body = f"{marker}\n{body}"
        check_body("The issue body", body)

        def upsert() -> IssueRef:
            found = next(iter(self._issues_with(marker, "open")), None)
            if found is None and reopen:
                found = next(iter(self._issues_with(marker, "closed")), None)
            if found is None:
                made = self.repo.create_issue(title=title, body=body, labels=list(labels))
                return IssueRef(made.number, made.html_url, made.state, body)
            changes: dict[str, Any] = {}
            if found.title != title:
                changes["title"] = title
            if (found.body or "") != body:
                changes["body"] = body
            have = sorted(label.name for label in found.labels)
            want = sorted(set(have) | set(labels))
            if want != have:
                changes["labels"] = want
            if found.state != "open":
                changes["state"] = "open"
            if changes:
                found.edit(**changes)
            return IssueRef(found.number, found.html_url, "open", body)

        return self._call("updating the issue", upsert)

    def close_issue(self, number: int) -> None:
        def close() -> None:
            issue = self.repo.get_issue(number)
            if issue.state != "closed":
                issue.edit(state="closed", state_reason="completed")

        self._call(f"closing issue #{number}", close)
