"""Check runs: one per name on a head sha, made by the bot's own App."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.adapters.github.base import RepoBase
from bot.adapters.github.errors import MAX_CHECK_TEXT_CHARS, _status, check_body


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

        key = f"{head_sha}:{name}"

        def upsert() -> int:
            from github.CheckRun import CheckRun
            from github.PaginatedList import PaginatedList

            known = self.known.get(self.full_name, "check", key)
            if known is not None and self._edit_known_check(known, head_sha, name, fields):
                return known
            self.known.drop(self.full_name, "check", key)
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
                made = int(self.repo.create_check_run(name=name, head_sha=head_sha, **fields).id)
            else:
                existing.edit(**fields)
                made = int(existing.id)
            self.known.put(self.full_name, "check", key, made)
            return made

        return self._call(f"updating check run {name!r}", upsert)

    def _edit_known_check(self, check_id: int, head_sha: str, name: str, fields: dict[str, Any]) -> bool:
        """PATCH the remembered check run straight away (a check run is never deleted on its own, and only
        its App may edit it); the answer verifies it is still the run of `name` on `head_sha`. False on 404."""
        data = {
            k: (v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, datetime) else v) for k, v in fields.items()
        }
        try:
            _, answer = self.repo.requester.requestJsonAndCheck(
                "PATCH", f"{self.repo.url}/check-runs/{check_id}", input=data
            )
        except Exception as exc:
            if _status(exc) in (403, 404):  # gone, or (a recycled id) not ours
                return False
            raise
        return bool(answer.get("head_sha") == head_sha and answer.get("name") == name)

    def check_conclusions(self, sha: str) -> dict[str, str]:
        def read() -> dict[str, str]:
            runs = self.repo.get_commit(sha).get_check_runs()
            # The newest run of a name wins, as in branch protection (a re-run replaces the earlier result).
            newest = sorted(runs, key=lambda r: (r.started_at is not None, r.started_at, r.id))
            return {str(r.name): str(r.conclusion or r.status) for r in newest}

        return self._call(f"reading the checks of {sha[:7]}", read)
