"""Comments and issues: found by the bot's hidden marker and authorship, then edited or created."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.adapters.github.base import RepoBase
from bot.adapters.github.errors import _status, check_body
from bot.core.models import CommentRef, IssueRef


class CommentsAndIssues(RepoBase):
    def react(self, comment_id: int, content: str) -> None:
        # One POST without fetching the comment first; GitHub answers 200 for a repeated reaction.
        url = f"{self.repo.url}/issues/comments/{comment_id}/reactions"
        self._call(
            "reacting to a comment",
            lambda: self.repo.requester.requestJsonAndCheck("POST", url, input={"content": content}),
        )

    def _known_comment(self, issue_number: int, marker: str) -> Any | None:
        """The remembered comment for `marker` on the issue, verified: still there, still the bot's, on this
        issue, still carrying the marker (one `GET` of that comment). None, and forgotten, otherwise."""
        key = f"{issue_number}:{marker}"
        comment_id = self.known.get(self.full_name, "comment", key)
        if comment_id is None:
            return None
        from github.IssueComment import IssueComment

        try:
            comment = IssueComment(self.repo.requester, url=f"{self.repo.url}/issues/comments/{comment_id}")
            comment.body  # noqa: B018 - completes the lazy object: the one GET, raising 404 here
        except Exception as exc:
            if _status(exc) != 404:
                raise
            comment = None
        if (
            comment is None
            or not self._mine(comment.user)
            or marker not in (comment.body or "")
            or not str(comment.issue_url).endswith(f"/issues/{issue_number}")
        ):
            self.known.drop(self.full_name, "comment", key)
            return None
        return comment

    def _remember_comment(self, issue_number: int, marker: str, comment_id: int) -> None:
        self.known.put(self.full_name, "comment", f"{issue_number}:{marker}", comment_id)

    def _comments(self, issue_number: int, since: str | None) -> Iterator[Any]:
        """The issue's comments, page by page, each page asked conditionally (a page that did not change is a
        304). With `since`, only those updated since then (GitHub's `since`; a second early, as both times are
        GitHub's own, to the second): what answers a comment made at `since` is among them, however long the
        thread."""
        from github.IssueComment import IssueComment

        parameters: dict[str, Any] = {"per_page": 100}
        if since is not None:
            try:
                moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                moment = None  # an unreadable time: list everything rather than miss the answer
            if moment is not None:
                moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
                parameters["since"] = (moment - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        url = f"{self.repo.url}/issues/{issue_number}/comments"
        for page in itertools.count(1):
            items, link = self._get_conditional(url, {**parameters, "page": page})
            for item in items or []:
                yield IssueComment(self.repo.requester, {}, item, completed=True)
            if 'rel="next"' not in link:
                return

    def find_bot_comment(
        self, issue_number: int, marker: str, *, since: str | None = None
    ) -> CommentRef | None:
        def find() -> CommentRef | None:
            known = self._known_comment(issue_number, marker)
            if known is not None:
                return CommentRef(known.id, known.html_url)
            for c in self._comments(issue_number, since):
                if self._mine(c.user) and marker in (c.body or ""):
                    self._remember_comment(issue_number, marker, int(c.id))
                    return CommentRef(c.id, c.html_url)
            return None

        return self._call(f"reading the comments of #{issue_number}", find)

    def upsert_comment(
        self, issue_number: int, marker: str, body: str, *, since: str | None = None
    ) -> CommentRef:
        if marker not in body:
            body = f"{marker}\n{body}"
        check_body("The comment", body)

        def upsert() -> CommentRef:
            known = self._known_comment(issue_number, marker)
            if known is not None:
                if known.body != body:
                    known.edit(body)
                return CommentRef(known.id, known.html_url)
            mine = [
                c
                for c in self._comments(issue_number, since)
                if self._mine(c.user) and marker in (c.body or "")
            ]
            if not mine:
                made = self.repo.get_issue(issue_number).create_comment(body)
                self._remember_comment(issue_number, marker, int(made.id))
                return CommentRef(made.id, made.html_url)
            keep, extra = mine[0], mine[1:]
            if keep.body != body:
                keep.edit(body)
            for duplicate in extra:  # left by an earlier lost response: one comment per marker
                duplicate.delete()
            self._remember_comment(issue_number, marker, int(keep.id))
            return CommentRef(keep.id, keep.html_url)

        return self._call(f"updating the comment on #{issue_number}", upsert)

    def _bot_issue(self, marker: str, *, closed: bool = True) -> Any | None:
        """The bot's issue carrying `marker`: an open one first, else (with `closed`) a closed one. One listing
        of the bot's own issues in both states."""
        shut = None
        for issue in self._issues_with(marker, "all"):
            if issue.state == "open":
                return issue
            shut = shut or issue
        return shut if closed else None

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
            issue = self._bot_issue(marker)
            return (
                None
                if issue is None
                else IssueRef(issue.number, issue.html_url, issue.state, issue.body or "")
            )

        return self._call("finding an issue by marker", find)

    def upsert_issue(
        self, marker: str, title: str, body: str, labels: list[str], *, reopen: bool = True
    ) -> IssueRef:
        if marker not in body:
            body = f"{marker}\n{body}"
        check_body("The issue body", body)

        def upsert() -> IssueRef:
            found = self._bot_issue(marker, closed=reopen)
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
