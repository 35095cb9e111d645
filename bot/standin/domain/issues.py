"""Issues, comments, reactions and labels."""

from __future__ import annotations

from bot.standin.domain.events import Events
from bot.standin.domain.state import StandInError
from bot.standin.model import Comment, Issue, Reaction, now_iso


class Issues(Events):
    """Issues, their comments, reactions and labels."""

    def create_issue(
        self, full_name: str, *, title: str, body: str | None, author: str, labels: list[str] | None = None
    ) -> Issue:
        """Open an issue (emits issues.opened)."""
        with self.lock:
            repo = self._repo(full_name)
            self.ensure_user(author)
            issue = Issue(self.ids(), repo.take_number(), title, body, author)
            issue.labels = [self.ensure_label(repo, name).name for name in labels or []]
            repo.issues[issue.number] = issue
            self._emit_issue(repo, issue, "opened", author)
            return issue

    def comment(self, full_name: str, number: int, body: str, *, author: str) -> int:
        """Comment on an issue or pull request as `author` (emits issue_comment.created); returns its id."""
        return self.add_comment(full_name, number, body, author=author).id

    def add_comment(self, full_name: str, number: int, body: str, *, author: str) -> Comment:
        with self.lock:
            repo = self._repo(full_name)
            issue = self._issue(repo, number)
            self.ensure_user(author)
            comment = Comment(self.ids(), number, body, author)
            issue.comments.append(comment)
            issue.updated_at = now_iso()
            self._emit_comment(repo, issue, comment, "created", author)
            return comment

    def edit_comment(self, full_name: str, comment_id: int, body: str, *, by: str) -> Comment:
        with self.lock:
            repo = self._repo(full_name)
            comment = repo.comment(comment_id)
            if comment is None:
                raise StandInError(404, "Not Found")
            old = comment.body
            comment.body = body
            comment.updated_at = now_iso()
            issue = repo.issues[comment.issue_number]
            self._emit_comment(repo, issue, comment, "edited", by, changes={"body": {"from": old}})
            return comment

    def delete_comment(self, full_name: str, comment_id: int) -> None:
        with self.lock:
            repo = self._repo(full_name)
            comment = repo.comment(comment_id)
            if comment is None:
                raise StandInError(404, "Not Found")
            repo.issues[comment.issue_number].comments.remove(comment)

    def react(self, full_name: str, comment_id: int, content: str, *, by: str) -> tuple[Reaction, bool]:
        """Add a reaction; GitHub answers the existing one (200) when the same user already reacted so."""
        with self.lock:
            repo = self._repo(full_name)
            comment = repo.comment(comment_id)
            if comment is None:
                raise StandInError(404, "Not Found")
            for existing in comment.reactions:
                if existing.user == by and existing.content == content:
                    return existing, False
            reaction = Reaction(self.ids(), content, by)
            comment.reactions.append(reaction)
            return reaction, True

    def set_issue_state(
        self, full_name: str, number: int, state: str, *, by: str, reason: str | None = None
    ) -> None:
        with self.lock:
            repo = self._repo(full_name)
            issue = self._issue(repo, number)
            if issue.state == state:
                return
            issue.state = state
            issue.updated_at = now_iso()
            if state == "closed":
                issue.closed_at = now_iso()
                issue.closed_by = by
                issue.state_reason = reason or "completed"
            else:
                issue.closed_at = None
                issue.closed_by = None
                issue.state_reason = "reopened"
            if issue.is_pull:
                pull = repo.pulls[number]
                if state == "open":
                    head = self._repo(pull.head_repo).git.branch_sha(pull.head_ref)
                    if head and head != pull.head_sha:
                        self.move_pull_head(repo, pull, head)
                self._emit_pull(repo, pull, "closed" if state == "closed" else "reopened", by)

    def comments(self, full_name: str, number: int) -> list[Comment]:
        """Comments on an issue or pull request, oldest first."""
        with self.lock:
            return list(self._issue(self._repo(full_name), number).comments)

    def issues(self, full_name: str) -> list[Issue]:
        """Issues only (pull requests excluded)."""
        with self.lock:
            return [i for i in self._repo(full_name).issues.values() if not i.is_pull]

    def reactions(self, full_name: str, comment_id: int) -> list[Reaction]:
        with self.lock:
            comment = self._repo(full_name).comment(comment_id)
            return list(comment.reactions) if comment else []

    def labels(self, full_name: str) -> list[str]:
        with self.lock:
            return [lb.name for lb in self._repo(full_name).labels.values()]
