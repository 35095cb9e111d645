"""Conditional requests against the running stand-in, as GitHub answers them: every GET carries a strong
ETag (and Last-Modified where GitHub sends one), a current copy is answered 304 with no body, and an
authorized 304 is not charged against the rate limit — in the headers and in the request log."""

from __future__ import annotations

import hashlib
from email.utils import format_datetime, parsedate_to_datetime

import httpx
import pytest

from .conftest import World, client


def _auth(world: World) -> dict[str, str]:
    return {"Authorization": f"token {world.bot_token}"}


def _get(world: World, path: str, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{world.standin.base_url}/repos/{world.full_name}{path}", headers={**_auth(world), **headers}
    )


def test_every_get_carries_a_strong_etag_derived_from_the_body(world: World) -> None:
    first = _get(world, "/contents/params.yaml")
    again = _get(world, "/contents/params.yaml")
    etag = first.headers["ETag"]
    assert etag == f'"{hashlib.sha256(first.content).hexdigest()}"'  # strong: no W/ prefix
    assert again.headers["ETag"] == etag
    assert "private" in first.headers["Cache-Control"] and "Authorization" in first.headers["Vary"]
    world.standin.commit(world.full_name, "main", {"params.yaml": "lr: 0.3\n"}, "tune", author=world.owner)
    changed = _get(world, "/contents/params.yaml")
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    for path in ("", "/branches/main", "/issues", "/pulls", "/git/refs/heads/main"):
        assert _get(world, path).headers["ETag"].startswith('"'), path


def test_matching_if_none_match_is_304_with_no_body_and_not_charged(world: World) -> None:
    s = world.standin
    etag = _get(world, "/contents/params.yaml").headers["ETag"]
    before = len(s.requests)
    for candidate in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        answer = _get(world, "/contents/params.yaml", **{"If-None-Match": candidate})
        assert answer.status_code == 304, candidate
        assert answer.content == b"" and "content-type" not in answer.headers
        assert answer.headers["ETag"] == etag
    stale = _get(world, "/contents/params.yaml", **{"If-None-Match": '"an-old-version"'})
    assert stale.status_code == 200 and stale.json()["path"] == "params.yaml"

    logged = s.requests[before:]
    assert [r.status for r in logged] == [304, 304, 304, 304, 200]
    assert all(r.conditional and r.authorized and r.etag == etag for r in logged)
    assert [r.not_modified for r in logged] == [True, True, True, True, False]
    assert [r.counts_toward_rate_limit for r in logged] == [False, False, False, False, True]
    assert s.charged_requests(before) == [logged[-1]]


def test_rate_limit_headers_spend_one_per_answer_but_not_for_an_authorized_304(world: World) -> None:
    first = _get(world, "/issues")
    used = int(first.headers["X-RateLimit-Used"])
    assert int(first.headers["X-RateLimit-Remaining"]) == 5000 - used
    not_modified = _get(world, "/issues", **{"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304
    assert int(not_modified.headers["X-RateLimit-Used"]) == used
    full = _get(world, "/issues")
    assert int(full.headers["X-RateLimit-Used"]) == used + 1
    # Another caller has its own budget.
    other = client(world.standin, world.owner_token).get_repo(world.full_name)
    other.get_issues().totalCount  # noqa: B018 - one request
    assert int(_get(world, "/issues").headers["X-RateLimit-Used"]) == used + 2


def test_an_anonymous_304_still_counts_against_the_rate_limit(world: World) -> None:
    s = world.standin
    url = f"{s.base_url}/repos/{world.full_name}/contents/README.md"
    etag = httpx.get(url).headers["ETag"]
    before = len(s.requests)
    answer = httpx.get(url, headers={"If-None-Match": etag})
    assert answer.status_code == 304
    assert answer.headers["X-RateLimit-Limit"] == "60"
    assert [r.counts_toward_rate_limit for r in s.requests[before:]] == [True]


def test_pygithub_update_is_a_304_until_the_issue_changes(world: World) -> None:
    issue = world.bot().get_issue(world.bot().create_issue(title="cached").number)
    assert issue.etag and issue.last_modified
    before = len(world.standin.requests)
    assert issue.update() is False  # PyGithub sends If-None-Match and If-Modified-Since; 304
    world.standin.comment(world.full_name, issue.number, "news", author=world.writer)
    assert issue.update() is True
    assert issue.comments == 1
    assert [r.status for r in world.standin.requests[before:]] == [304, 200]


def test_if_none_match_wins_over_if_modified_since(world: World) -> None:
    number = world.bot().create_issue(title="t").number
    first = _get(world, f"/issues/{number}")
    last_modified = first.headers["Last-Modified"]
    world.standin.comment(world.full_name, number, "same second, new body", author=world.writer)
    both = _get(
        world,
        f"/issues/{number}",
        **{"If-None-Match": first.headers["ETag"]},
        **{"If-Modified-Since": last_modified},
    )
    assert both.status_code == 200 and both.json()["comments"] == 1


def test_if_modified_since_alone_uses_last_modified(world: World) -> None:
    number = world.bot().create_issue(title="t").number
    last_modified = _get(world, f"/issues/{number}").headers["Last-Modified"]
    moment = parsedate_to_datetime(last_modified)
    assert _get(world, f"/issues/{number}", **{"If-Modified-Since": last_modified}).status_code == 304
    earlier = format_datetime(moment.replace(year=moment.year - 1), usegmt=True)
    assert _get(world, f"/issues/{number}", **{"If-Modified-Since": earlier}).status_code == 200
    assert _get(world, f"/issues/{number}", **{"If-Modified-Since": "not a date"}).status_code == 200
    # A listing has no Last-Modified, so If-Modified-Since alone cannot make it 304.
    listing = _get(world, "/issues")
    assert "Last-Modified" not in listing.headers
    assert _get(world, "/issues", **{"If-Modified-Since": last_modified}).status_code == 200


def test_a_page_whose_links_moved_has_a_new_etag(world: World) -> None:
    number = world.bot().create_issue(title="paged").number
    for i in range(4):
        world.standin.comment(world.full_name, number, f"c{i}", author=world.writer)
    page = _get(world, f"/issues/{number}/comments?per_page=2&page=1")
    world.standin.comment(world.full_name, number, "c4", author=world.writer)  # a third page appears
    moved = _get(
        world, f"/issues/{number}/comments?per_page=2&page=1", **{"If-None-Match": page.headers["ETag"]}
    )
    assert moved.content and moved.json() == page.json()  # same first page ...
    assert moved.status_code == 200 and moved.headers["Link"] != page.headers["Link"]  # ... other links


@pytest.mark.parametrize("method", ["POST", "GET404"])
def test_writes_and_errors_carry_no_etag(world: World, method: str) -> None:
    if method == "POST":
        answer = httpx.post(
            f"{world.standin.base_url}/repos/{world.full_name}/issues",
            json={"title": "w"},
            headers=_auth(world),
        )
        assert answer.status_code == 201
    else:
        answer = _get(world, "/issues/99999")
        assert answer.status_code == 404
    assert "ETag" not in answer.headers
