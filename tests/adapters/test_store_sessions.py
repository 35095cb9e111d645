"""Dashboard sessions and champion moves in the store, on SQLite and on PostgreSQL (when a server is given):
a session is found until it expires or ends; the newest champion move of a model replaces the last."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters import migrations
from bot.adapters.store import ChampionMove, SessionRow, Store
from tests.scale.postgres import fresh_database, server_url
from tests.support.clock import ManualClock


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, ManualClock]]:
    clock = ManualClock(1_000_000.0)
    if request.param == "sqlite":
        opened = Store(f"sqlite:///{tmp_path / 'bot.db'}", clock=clock)
        yield opened, clock
        opened.close()
        return
    server = server_url()
    if not server:
        pytest.skip("MLOPS_BOT_TEST_POSTGRES_URL is not set: export it (scripts/ci-postgres.sh prints one)")
    pytest.importorskip("psycopg")
    with fresh_database(server) as url:
        migrations.upgrade(url)
        opened = Store(url, clock=clock)
        yield opened, clock
        opened.close()


def test_a_session_is_found_until_it_expires_or_ends(store: tuple[Store, ManualClock]) -> None:
    db, clock = store
    db.save_session(SessionRow("h1", "bob", b"sealed", "csrf", clock(), clock() + 100))
    db.save_session(SessionRow("h2", "eve", b"sealed", "csrf", clock(), clock() + 100))
    found = db.session_row("h1")
    assert found is not None and found.login == "bob" and found.sealed_token == b"sealed"
    db.end_session("h1")
    assert db.session_row("h1") is None and db.session_row("h2") is not None
    clock.advance(100)
    assert db.session_row("h2") is None  # expired
    db.save_session(SessionRow("h3", "alice", b"s", "c", clock(), clock() + 100))  # and swept
    assert db.session_row("h3") is not None


def test_the_newest_champion_move_of_a_model_replaces_the_last(store: tuple[Store, ManualClock]) -> None:
    db, _ = store
    db.record_champion_move(ChampionMove("acme/churn", "churn", "2", "r2", "promote", 10.0))
    db.record_champion_move(ChampionMove("acme/churn", "churn", "1", "r1", "rollback", 20.0))
    db.record_champion_move(ChampionMove("acme/other", "churn", "7", "r7", "promote", 15.0))
    moves = db.champion_moves()
    assert moves[("acme/churn", "churn")] == ChampionMove("acme/churn", "churn", "1", "r1", "rollback", 20.0)
    assert moves[("acme/other", "churn")].version == "7" and len(moves) == 2
