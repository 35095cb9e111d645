"""Deliveries and the facts handlers read from them. Pure: payload dicts in, values out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One unit of queued work: a GitHub webhook delivery, or a job the bot queued for itself.

    `id` is GitHub's `X-GitHub-Delivery` for webhooks and a deterministic key (`job:...`) for the
    bot's own jobs, so both are deduplicated the same way.
    """

    id: str
    event: str
    action: str | None
    payload: dict[str, Any]
    attempts: int = 0
    received_at: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """`event.action`, the key handlers subscribe to (Probot style)."""
        return f"{self.event}.{self.action}" if self.action else self.event

    @property
    def repo(self) -> str:
        return str(self.payload.get("repository", {}).get("full_name", ""))

    @property
    def installation_id(self) -> int | None:
        inst = self.payload.get("installation") or {}
        value = inst.get("id")
        return int(value) if value is not None else None

    @property
    def sender(self) -> str:
        return str((self.payload.get("sender") or {}).get("login", ""))

    @property
    def sender_is_bot(self) -> bool:
        sender = self.payload.get("sender") or {}
        return sender.get("type") == "Bot" or str(sender.get("login", "")).endswith("[bot]")


class PermanentError(Exception):
    """A job that cannot succeed by retrying (bad payload, missing config): recorded as failed at once."""


class Ignored(Exception):
    """The delivery can have no effect and retrying will not change that (the comment, issue or repository is
    gone, the App cannot see it): the delivery ends `done`, the message kept as its note."""


# GitHub's answers that no retry changes: https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
_PERMANENT = {
    404: "it does not exist or the App cannot see it",
    410: "it is gone",
    422: "GitHub refused the request as invalid",
}


def permanent_answer(status: int | None, message: str = "") -> str | None:
    """The note for a delivery ended by GitHub answering `status`; None when a retry may still succeed."""
    why = _PERMANENT.get(status) if status is not None else None
    if why is None:
        return None
    said = f": {message.strip()[:200]}" if message.strip() else ""
    return f"ignored: GitHub answered {status}{said} ({why}); retrying cannot change that"


@dataclass(frozen=True)
class HeadAtComment:
    """Which commit a pull request's head was when a comment was written: `sha`, or None and why not."""

    sha: str | None
    reason: str = ""


def _github_time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def head_at(events: Sequence[Mapping[str, Any]], comment_created_at: str) -> HeadAtComment:
    """The head a maintainer saw when writing an approval, from the PR's `pull_request.opened/synchronize/
    reopened` payloads (oldest first).

    Both sides are GitHub's clock: the comment's `created_at`, and each payload's `updated_at` (the moment
    that push moved the head). GitHub's times have one-second resolution, so a head announced in the same
    second as the comment is ambiguous: it could have landed just after the approval, which is exactly
    the race an attacker plays. Then nothing is approved. The one exception is a PR whose very first head
    is that one: there was no other commit to see.
    """
    created = _github_time(comment_created_at)
    if created is None:
        return HeadAtComment(None, "the comment has no creation time")
    timed: list[tuple[datetime, str]] = []
    for event in events:
        pr = event.get("pull_request") or {}
        sha = str((pr.get("head") or {}).get("sha") or "")
        when = _github_time(pr.get("updated_at") or pr.get("created_at"))
        if sha and when is not None:
            timed.append((when, sha))
    timed.sort(key=lambda item: item[0])  # stable: payloads of the same second keep their order
    before = [sha for when, sha in timed if when < created]
    same = [sha for when, sha in timed if when == created]
    if before:
        if any(sha != before[-1] for sha in same):
            return HeadAtComment(None, "the head moved in the same second as the approval")
        return HeadAtComment(before[-1])
    if len(set(same)) == 1:
        return HeadAtComment(same[0])
    if same:
        return HeadAtComment(None, "the head moved in the same second as the approval")
    return HeadAtComment(None, "I have no record of this pull request's head before the approval")
