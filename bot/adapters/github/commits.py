"""Commits as GitHub describes them: enough to tell the bot's own `dvc.lock` commit from a person's push."""

from __future__ import annotations

from bot.adapters.github.base import RepoBase
from bot.core.models import CommitFacts


class Commits(RepoBase):
    def commit(self, sha: str) -> CommitFacts:
        def read() -> CommitFacts:
            commit = self.repo.get_commit(
                sha
            )  # GET /repos/{owner}/{repo}/commits/{sha}: one request, files included
            git = commit.commit
            return CommitFacts(
                sha=commit.sha,
                parents=tuple(
                    p.sha for p in commit.parents
                ),  # the answer's own list: `git.parents` would fetch again
                author_email=str(git.author.email or "") if git.author else "",
                committer_email=str(git.committer.email or "") if git.committer else "",
                message=git.message or "",
                files=tuple(f.filename for f in commit.files),
            )

        return self._call(f"reading commit {sha[:12]}", read)
