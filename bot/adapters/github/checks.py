"""Check runs: one per name on a head sha, made by the bot's own App."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.adapters.github.base import RepoBase
from bot.adapters.github.errors import MAX_CHECK_TEXT_CHARS, check_body


class Checks(RepoBase):
    def upsert_check_run(
        self,
        head_sha: str,
        name: str,
        *,
        status: str,
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str = "",
        details_url: str | None = None,
    ) -> int:
        check_body("The check run summary", summary, MAX_CHECK_TEXT_CHARS)
        check_body("The check run text", text, MAX_CHECK_TEXT_CHARS)
        fields: dict[str, Any] = {"status": status}
        if conclusion is not None:
            fields["conclusion"] = conclusion
            fields["status"] = "completed"
            fields["completed_at"] = datetime.now(UTC)
        if summary or title or text:
            output = {"title": title or name, "summary": summary or title or name}
            if text:
                output["text"] = text
            fields["output"] = output
        if details_url:
            fields["details_url"] = details_url

        def upsert() -> int:
            from github.CheckRun import CheckRun
            from github.PaginatedList import PaginatedList

            runs = PaginatedList(
                CheckRun,
                self.repo.requester,
                f"{self.repo.url}/commits/{head_sha}/check-runs",
                {"check_name": name, "filter": "latest"},
                list_item="check_runs",
            )
            # A check run of the same name made by another App is not ours to edit or to trust.
            existing = next((r for r in runs if self._my_app(r.app)), None)
            if existing is None:
                return int(self.repo.create_check_run(name=name, head_sha=head_sha, **fields).id)
            existing.edit(**fields)
            return int(existing.id)

        return self._call(f"updating check run {name!r}", upsert)

    def check_conclusions(self, sha: str) -> dict[str, str]:
        def read() -> dict[str, str]:
            runs = self.repo.get_commit(sha).get_check_runs()
            # The newest run of a name wins, as in branch protection (a re-run replaces the earlier result).
            newest = sorted(runs, key=lambda r: (r.started_at is not None, r.started_at, r.id))
            return {str(r.name): str(r.conclusion or r.status) for r in newest}

        return self._call(f"reading the checks of {sha[:7]}", read)
