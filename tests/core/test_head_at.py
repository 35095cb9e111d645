"""`head_at`: the head a maintainer saw when writing `/ok-to-test`, from the PR's announced heads (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.events import head_at

A, B = "a" * 40, "b" * 40


def announced(sha: str, at: str) -> dict[str, Any]:
    return {"pull_request": {"head": {"sha": sha}, "updated_at": at}}


OPENED = announced(A, "2026-01-01T10:00:00Z")


@pytest.mark.parametrize(
    ("events", "comment_at", "sha", "reason"),
    [
        ([OPENED], "2026-01-01T10:05:00Z", A, ""),
        ([OPENED, announced(B, "2026-01-01T10:05:01Z")], "2026-01-01T10:05:00Z", A, ""),  # pushed after
        ([OPENED, announced(B, "2026-01-01T10:04:59Z")], "2026-01-01T10:05:00Z", B, ""),  # pushed before
        ([OPENED, announced(B, "2026-01-01T10:05:00Z")], "2026-01-01T10:05:00Z", None, "same second"),
        ([announced(A, "2026-01-01T10:05:00Z")], "2026-01-01T10:05:00Z", A, ""),  # its only head
        ([announced(B, "2026-01-01T10:04:59Z"), OPENED], "2026-01-01T10:05:00Z", B, ""),  # out of order
        ([OPENED, announced(A, "2026-01-01T10:05:00Z")], "2026-01-01T10:05:00Z", A, ""),  # same head again
        ([], "2026-01-01T10:05:00Z", None, "no record"),
        ([announced(A, "2026-01-01T10:06:00Z")], "2026-01-01T10:05:00Z", None, "no record"),
        ([OPENED], "", None, "no creation time"),
        ([OPENED], "yesterday", None, "no creation time"),
        ([{"pull_request": {"head": {}}}, OPENED], "2026-01-01T10:05:00Z", A, ""),
        ([OPENED], "2026-01-01T10:05:00+00:00", A, ""),
    ],
)
def test_the_approved_head(
    events: list[dict[str, Any]], comment_at: str, sha: str | None, reason: str
) -> None:
    seen = head_at(events, comment_at)
    assert seen.sha == sha
    assert reason in seen.reason
