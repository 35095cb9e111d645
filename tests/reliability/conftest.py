"""Fixtures for the reliability suite: an App key per session and the real bot served in this process."""

from __future__ import annotations

import functools

import pytest

from bot.adapters.github import RetryPolicy
from bot.adapters.github import auth as github_auth

from .harness import app_keys

# GitHub's failures are retried by the adapter as in production, only with delays in milliseconds so
# hundreds of injected faults fit in a CI run. Retry-After from the stand-in is honoured as sent.
FAST_RETRIES = functools.partial(RetryPolicy, attempts=8, base_delay_s=0.01, max_delay_s=0.2, budget_s=20.0)


@pytest.fixture(scope="session")
def keys() -> tuple[str, str]:
    return app_keys()


@pytest.fixture
def fast_github_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's GitHub adapter, built by the real `build_handler`, retries with millisecond delays."""
    monkeypatch.setattr(github_auth, "RetryPolicy", FAST_RETRIES)  # the factory builds the policy
