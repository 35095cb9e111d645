"""Pull requests (read, opened or updated by head branch) and who may act on them."""

from __future__ import annotations

from bot.adapters.github.base import RepoBase
from bot.adapters.github.errors import GitHubError, _status, check_body
from bot.core.models import PullFacts, PullRef
from bot.core.permissions import Permission


class Pulls(RepoBase):
    def pull(self, number: int, *, approvals: bool = False) -> PullFacts:
        def read() -> PullFacts:
            pr = self.repo.get_pull(number)
            latest: dict[str, str] = {}
            # The reviews are a listing of their own: read only when a gate counts approvals.
            for review in pr.get_reviews() if approvals else ():
                if review.user is not None and review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                    latest[review.user.login] = review.state
            head_repo = pr.head.repo.full_name if pr.head.repo is not None else ""
            return PullFacts(
                number=pr.number,
                title=pr.title,
                author=pr.user.login,
                state=pr.state,
                merged=bool(pr.merged),
                head_sha=pr.head.sha,
                head_ref=pr.head.ref,
                head_repo=head_repo,
                base_ref=pr.base.ref,
                base_sha=pr.base.sha,
                base_repo=pr.base.repo.full_name,
                merge_commit_sha=pr.merge_commit_sha,
                html_url=pr.html_url,
                approvals=sum(1 for state in latest.values() if state == "APPROVED"),
            )

        return self._call(f"reading pull request #{number}", read)

    def permission(self, login: str) -> Permission:
        def read() -> Permission:
            try:
                return Permission.parse(self.repo.get_collaborator_role_name(login))
            except Exception as exc:
                if _status(exc) == 404:  # not a user (or not visible): no permission
                    return Permission.NONE
                raise

        return self._call(f"reading {login}'s permission", read)

    def upsert_pull(self, head: str, base: str, title: str, body: str) -> PullRef:
        check_body("The pull request body", body)
        owner = self.full_name.split("/", 1)[0]
        qualified = head if ":" in head else f"{owner}:{head}"

        def upsert() -> PullRef:
            found = next(
                (p for p in self.repo.get_pulls(state="open", head=qualified) if self._mine(p.user)), None
            )
            if found is None:
                try:
                    found = self.repo.create_pull(base=base, head=head, title=title, body=body)
                    return PullRef(found.number, found.html_url, found.head.sha)
                except Exception as exc:
                    if _status(exc) != 422:
                        raise
                    found = next(
                        (p for p in self.repo.get_pulls(state="open", head=qualified) if self._mine(p.user)),
                        None,
                    )
                    if found is None:
                        raise GitHubError(
                            f"GitHub refused to open a pull request from {head} into {base}: "
                            f"{getattr(exc, 'data', exc)}"
                        ) from exc
            if (found.title, found.body or "", found.base.ref) != (title, body, base):
                found.edit(title=title, body=body, base=base)
            return PullRef(found.number, found.html_url, found.head.sha)

        return self._call(f"opening the pull request from {head}", upsert)
