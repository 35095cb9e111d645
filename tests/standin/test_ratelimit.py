"""The stand-in's rate-limit budgets: per caller, hourly windows, 60 for anonymous callers (clock injected)."""

from __future__ import annotations

from bot.standin.ratelimit import RateLimits


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_budget_is_per_caller_and_a_free_request_spends_nothing() -> None:
    limits = RateLimits(Clock())
    assert limits.spend("installation:1", counted=True)["X-RateLimit-Remaining"] == "4999"
    assert limits.spend("installation:1", counted=False)["X-RateLimit-Used"] == "1"
    assert limits.spend("user:alice", counted=True)["X-RateLimit-Used"] == "1"
    assert limits.used("installation:1") == 1
    anonymous = limits.spend("anonymous", counted=True)
    assert (anonymous["X-RateLimit-Limit"], anonymous["X-RateLimit-Remaining"]) == ("60", "59")


def test_window_resets_an_hour_after_it_opened() -> None:
    clock = Clock()
    limits = RateLimits(clock)
    opened = limits.spend("installation:1", counted=True)
    assert opened["X-RateLimit-Reset"] == str(int(clock.now) + 3600)
    clock.now += 3599
    assert limits.spend("installation:1", counted=True)["X-RateLimit-Used"] == "2"
    clock.now += 1
    assert limits.used("installation:1") == 0
    assert limits.spend("installation:1", counted=True)["X-RateLimit-Used"] == "1"
