"""Fault injection: GitHub's failures, decided before any state changes (except a lost response)."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.standin import WRITE_METHODS, Faults, StandIn

from .conftest import World


def _post_issue(world: World, title: str) -> httpx.Response:
    return httpx.post(
        f"{world.standin.base_url}/repos/{world.full_name}/issues",
        json={"title": title},
        headers={"Authorization": f"token {world.bot_token}"},
    )


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("500", 500, "Server Error"),
        ("502", 502, "Bad Gateway"),
        ("429", 429, "API rate limit exceeded"),
        ("secondary", 403, "You have exceeded a secondary rate limit"),
    ],
)
def test_failed_write_changes_nothing(
    standin: StandIn, world: World, kind: str, status: int, message: str
) -> None:
    standin.faults.next(kind, methods=WRITE_METHODS)
    response = _post_issue(world, f"during {kind}")
    assert response.status_code == status
    assert response.json()["message"].startswith(message)
    if kind in ("429", "secondary"):
        assert response.headers["Retry-After"] == "1"
    if kind == "429":
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert int(response.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert standin.issues(world.full_name) == []
    assert _post_issue(world, "after").status_code == 201  # one fault only


def test_dropped_connection_changes_nothing(standin: StandIn, world: World) -> None:
    standin.faults.next("drop")
    with pytest.raises(httpx.TransportError):
        _post_issue(world, "dropped")
    assert standin.issues(world.full_name) == []


def test_lost_response_applies_the_write(standin: StandIn, world: World) -> None:
    standin.faults.next("lost_response")
    with pytest.raises(httpx.TransportError):
        _post_issue(world, "applied but unanswered")
    assert [i.title for i in standin.issues(world.full_name)] == ["applied but unanswered"]


def test_faults_limited_to_writes_spare_reads(standin: StandIn, world: World) -> None:
    standin.faults.next("502", methods={"POST"})
    headers = {"Authorization": f"token {world.bot_token}"}
    assert httpx.get(f"{standin.base_url}/repos/{world.full_name}", headers=headers).status_code == 200
    assert _post_issue(world, "x").status_code == 502


def test_random_faults_repeat_with_a_seed() -> None:
    def sequence() -> list[str | None]:
        faults = Faults(probability=0.5, seed=7)
        picks = [faults.pick("POST", "/x") for _ in range(40)]
        return [p.kind if p else None for p in picks]

    first = sequence()
    assert first == sequence()
    assert 5 < sum(1 for kind in first if kind) < 35
    assert Faults(probability=1.0, methods=WRITE_METHODS, seed=1).pick("GET", "/x") is None


def test_slow_responses(standin: StandIn, world: World) -> None:
    standin.faults.delay_seconds = 0.3
    started = time.perf_counter()
    httpx.get(
        f"{standin.base_url}/repos/{world.full_name}", headers={"Authorization": f"token {world.bot_token}"}
    )
    assert time.perf_counter() - started >= 0.3


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Faults().next("504")
