"""What a GitHub call can fail with, GitHub's size limits, and the retry policy every port method runs under.

PyGithub's own transport retries are off (`retry=None`): a replayed POST after a lost response would create
a second comment. Instead every port method runs as a whole inside `retrying`, which re-runs the keyed
find-then-write on 5xx, dropped connections, primary rate limits (`Retry-After` or `x-ratelimit-reset`) and
secondary rate limits (`Retry-After`, else a minute), within a bounded total wait.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger("bot.adapters.github")

T = TypeVar("T")


MAX_COMMENT_CHARS = 65536  # GitHub rejects longer issue/PR comment and issue bodies
MAX_CHECK_TEXT_CHARS = 65535  # check run output.summary and output.text limit
MAX_DEPLOYMENT_DESCRIPTION = 140
SECONDARY_RATE_LIMIT_WAIT_S = 60.0  # GitHub: wait at least a minute when no Retry-After is given


class GitHubError(Exception):
    """A GitHub call failed in a way retrying will not fix; the message says what and what to do."""


class BodyTooLong(GitHubError):
    """A comment or issue body is over GitHub's limit: the caller must fold or split it."""

    def __init__(self, what: str, length: int, limit: int = MAX_COMMENT_CHARS) -> None:
        super().__init__(
            f"{what} is {length} characters; GitHub accepts at most {limit}. "
            "Fold long sections into <details> or split the text over several comments."
        )
        self.length = length
        self.limit = limit


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `attempts` in total, exponential backoff from `base_delay_s` (capped at
    `max_delay_s`, with jitter), and never more than `budget_s` of waiting in one operation."""

    attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    budget_s: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None


def retry_delay(exc: BaseException, attempt: int, policy: RetryPolicy) -> float | None:
    """Seconds to wait before retrying after `exc`, or None when `exc` is not worth retrying.

    GitHub's guidance: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    """
    import requests
    from github import GithubException

    backoff = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (attempt - 1))
    backoff *= 0.5 + random.random() / 2  # noqa: S311 - jitter, not security
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return backoff
    if not isinstance(exc, GithubException):
        return None
    status = exc.status
    headers = exc.headers
    message = str((exc.data or {}).get("message", "")) if isinstance(exc.data, dict) else str(exc.data or "")
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None and retry_after.strip().isdigit() and status in (403, 429, 500, 502, 503, 504):
        return max(float(retry_after), 0.0)
    remaining = _header(headers, "X-RateLimit-Remaining")
    reset = _header(headers, "X-RateLimit-Reset")
    if status in (403, 429) and remaining == "0" and reset and reset.isdigit():
        return max(float(reset) - policy.clock(), 0.0) + 1.0  # the reset second itself is not precise
    lowered = message.lower()
    if status in (403, 429) and "secondary rate limit" in lowered:
        return SECONDARY_RATE_LIMIT_WAIT_S
    if status in (403, 429) and lowered.startswith("api rate limit exceeded"):
        return backoff
    if status == 429 or status >= 500:
        return backoff
    return None


def _retrying(policy: RetryPolicy, what: str, fn: Callable[[], T]) -> T:
    waited = 0.0
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except Exception as exc:
            delay = retry_delay(exc, attempt, policy)
            if delay is None:
                raise
            if attempt == policy.attempts or waited + delay > policy.budget_s:
                raise GitHubError(
                    f"{what}: GitHub kept failing after {attempt} attempt(s) and {waited:.0f}s of waiting "
                    f"({_describe(exc)}). Try again later; the operation is safe to repeat."
                ) from exc
            log.warning("%s failed (%s); retry %d in %.1fs", what, _describe(exc), attempt, delay)
            policy.sleep(delay)
            waited += delay
    raise AssertionError("unreachable")


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    return f"HTTP {status}" if status is not None else type(exc).__name__


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def git_blob_sha(data: bytes) -> str:
    """The object id git gives `data` as a blob (lets us see that a file already has these contents)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def check_body(what: str, body: str, limit: int = MAX_COMMENT_CHARS) -> None:
    """Raise BodyTooLong before sending a body GitHub would reject with 422."""
    if len(body) > limit:
        raise BodyTooLong(what, len(body), limit)
