"""Conditional requests as GitHub answers them: validators on every GET, 304 when the client's copy is current.

GitHub: "Most endpoints return an `etag` header, and many endpoints return a `last-modified` header. You can
use the values of these headers to make conditional GET requests. [...] If the data has not changed, you will
receive a 304 Not Modified response. Making a conditional request does not count against your primary rate
limit if a 304 response is returned and the request was made while correctly authorized with an
Authorization header."
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate

The stand-in's ETag is strong and derived from the representation: the JSON body and, for a page of a
listing, its Link header (a page whose links moved is a different answer), so it changes with any field.
`Last-Modified` is sent where GitHub sends it for the objects the stand-in serves (a repository, an issue,
a pull request, a comment, a commit, contents, the authenticated user; handlers set `Reply.last_modified`):
the object's own timestamp, to the second, which, as on GitHub, does not move with fields derived from
other objects (counts, mergeability, reactions). If-None-Match wins over If-Modified-Since (RFC 9110
13.2.2), so a client sending both (PyGithub's `update()` does) is judged by the exact ETag.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

# Headers a 304 repeats from the 200 it stands for (RFC 9110 15.4.5), as GitHub sends them.
CACHE_CONTROL = "private, max-age=60, s-maxage=60"
VARY = "Accept, Authorization, Cookie, X-GitHub-OTP"


def etag_for(body: bytes, link: str = "") -> str:
    """A strong entity tag for one representation: the JSON body plus the Link header of its page."""
    digest = hashlib.sha256(body)
    if link:
        digest.update(b"\nLink: " + link.encode())
    return f'"{digest.hexdigest()}"'


def http_date(iso: str) -> str:
    """`2026-12-03T00:12:00Z` as an HTTP date: `Thu, 03 Dec 2026 00:12:00 GMT`."""
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return format_datetime(moment, usegmt=True)


def _opaque(tag: str) -> str:
    """The tag without its weakness indicator: If-None-Match uses the weak comparison (RFC 9110 8.8.3.2)."""
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match list (`*`, or comma-separated tags) names the current `etag`."""
    candidates = [part.strip() for part in if_none_match.split(",") if part.strip()]
    return any(tag == "*" or _opaque(tag) == _opaque(etag) for tag in candidates)


def not_modified_since(if_modified_since: str, last_modified_iso: str) -> bool:
    """Whether the resource last changed at or before the client's date; an unreadable date is ignored."""
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    changed = datetime.strptime(last_modified_iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return changed <= since


def is_current(headers: dict[str, str], etag: str, last_modified_iso: str | None) -> bool:
    """Whether the client's cached copy, described by its request `headers` (lower-cased), is current."""
    if "if-none-match" in headers:
        return matches(headers["if-none-match"], etag)
    if "if-modified-since" in headers and last_modified_iso is not None:
        return not_modified_since(headers["if-modified-since"], last_modified_iso)
    return False


def is_conditional(headers: dict[str, str]) -> bool:
    return "if-none-match" in headers or "if-modified-since" in headers
