"""Pull requests: opening, reviews, merges."""

from __future__ import annotations

from bot.standin.domain.events import Events
from bot.standin.domain.state import StandInError
from bot.standin.gitstore import MergeConflict
from bot.standin.model import Issue, Pull, Review, now_iso


class Pulls(Events):
    """Pull requests, their reviews, and merges with real git."""

    def open_pull(
        self,
        full_name: str,
        *,
        head: str,
        base: str = "main",
        title: str,
        body: str = "",
        author: str,
        draft: bool = False,
    ) -> int:
        """Open a pull request from `head` ("branch" or "owner:branch") into `base` (pull_request.opened)."""
        return self.create_pull(
            full_name, head=head, base=base, title=title, body=body, author=author, draft=draft
        ).number

    def create_pull(
        self,
        full_name: str,
        *,
        head: str,
        base: str,
        title: str,
        body: str | None,
        author: str,
        draft: bool = False,
        maintainer_can_modify: bool = False,
    ) -> Pull:
        with self.lock:
            repo = self._repo(full_name)
            head_owner, _, head_ref = head.rpartition(":")
            head_repo = repo
            if head_owner and head_owner.lower() != repo.owner.lower():
                head_repo = self._repo(f"{head_owner}/{repo.name}")
            head_sha = head_repo.git.branch_sha(head_ref)
            base_sha = repo.git.branch_sha(base)
            errors = []
            if head_sha is None:
                errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
            if base_sha is None:
                errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
            if errors:
                raise StandInError(422, "Validation Failed", errors)
            assert head_sha is not None and base_sha is not None
            for pull in repo.pulls.values():
                if (pull.head_repo.lower(), pull.head_ref, pull.base_ref) == (
                    head_repo.full_name.lower(),
                    head_ref,
                    base,
                ) and repo.issues[pull.number].state == "open":
                    raise StandInError(
                        422,
                        "Validation Failed",
                        [
                            {
                                "resource": "PullRequest",
                                "code": "custom",
                                "message": f"A pull request already exists for {head_repo.owner}:{head_ref}.",
                            }
                        ],
                    )
            if head_sha == base_sha or repo.git.is_ancestor(head_sha, base_sha):
                raise StandInError(
                    422,
                    "Validation Failed",
                    [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"No commits between {base} and {head_ref}",
                        }
                    ],
                )
            self.ensure_user(author)
            number = repo.take_number()
            issue = Issue(self.ids(), number, title, body, author, is_pull=True)
            pull = Pull(
                self.ids(),
                number,
                head_repo.full_name,
                head_ref,
                base,
                head_sha,
                base_sha,
                draft=draft,
                maintainer_can_modify=maintainer_can_modify,
            )
            repo.issues[number] = issue
            repo.pulls[number] = pull
            self.move_pull_head(repo, pull, head_sha)
            self._emit_pull(repo, pull, "opened", author)
            return pull

    def approve(self, full_name: str, number: int, *, by: str) -> None:
        """Submit an approving review as `by`."""
        self.add_review(full_name, number, by=by, state="APPROVED", body="")

    def add_review(self, full_name: str, number: int, *, by: str, state: str, body: str) -> Review:
        with self.lock:
            repo = self._repo(full_name)
            pull = repo.pulls.get(number)
            if pull is None:
                raise StandInError(404, "Not Found")
            self.ensure_user(by)
            review = Review(self.ids(), by, state, body, pull.head_sha)
            pull.reviews.append(review)
            return review

    def merge_pull(
        self,
        full_name: str,
        number: int,
        *,
        by: str,
        method: str = "merge",
        title: str | None = None,
        message: str | None = None,
        sha: str | None = None,
    ) -> str:
        """Merge with merge|squash|rebase using real git; emits push and pull_request.closed (merged)."""
        with self.lock:
            repo = self._repo(full_name)
            pull = repo.pulls.get(number)
            if pull is None:
                raise StandInError(404, "Not Found")
            issue = repo.issues[number]
            if pull.merged or issue.state != "open":
                raise StandInError(405, "Pull Request is not mergeable")
            if sha is not None and sha != pull.head_sha:
                raise StandInError(409, "Head branch was modified. Review and try the merge again.")
            git = repo.git
            base_sha = git.branch_sha(pull.base_ref)
            if base_sha is None:
                raise StandInError(422, "Base branch was deleted")
            head = pull.head_sha
            self.ensure_user(by)
            sig = self.signature(by)
            try:
                if method == "rebase":
                    new_tip = git.rebase(base_sha, git.commits_between(base_sha, head), sig)
                else:
                    tree = git.merge_trees(base_sha, head)
                    if method == "squash":
                        text = f"{title or issue.title} (#{number})\n\n{message or ''}".rstrip() + "\n"
                        author = self.signature(issue.user)
                        new_tip = git.commit_tree(tree, [base_sha], text, author, sig)
                    else:
                        head_label = f"{self._repo(pull.head_repo).owner}/{pull.head_ref}"
                        text = title or f"Merge pull request #{number} from {head_label}"
                        text = f"{text}\n\n{message if message is not None else issue.title}\n"
                        new_tip = git.commit_tree(tree, [base_sha, head], text, sig, sig)
            except MergeConflict as exc:
                raise StandInError(405, "Pull Request is not mergeable") from exc
            git.update_ref(f"refs/heads/{pull.base_ref}", new_tip, base_sha)
            pull.merged = True
            pull.merged_at = now_iso()
            pull.merged_by = by
            pull.merge_commit_sha = new_tip
            pull.base_sha = base_sha
            issue.state = "closed"
            issue.closed_at = pull.merged_at
            issue.closed_by = by
            issue.updated_at = pull.merged_at
        self.notify_push(full_name, pull.base_ref, pusher=by)
        with self.lock:
            self._emit_pull(repo, pull, "closed", by)
        return new_tip

    def pulls(self, full_name: str) -> list[Pull]:
        with self.lock:
            return list(self._repo(full_name).pulls.values())

    def pull(self, full_name: str, number: int) -> Pull:
        with self.lock:
            return self._repo(full_name).pulls[number]
