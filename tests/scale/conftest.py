"""Fixtures for the scale-out suites: fresh PostgreSQL databases on the server named by
MLOPS_BOT_TEST_POSTGRES_URL (skipped with the reason when it is unset), and SQLite files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scale.postgres import SKIP_REASON, fresh_database, server_url


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = server_url()
    if not url:
        pytest.skip(SKIP_REASON)
    pytest.importorskip("psycopg")
    return url


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """An empty database of its own (no schema)."""
    with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind the bot supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    return str(request.getfixturevalue("postgres_database"))
