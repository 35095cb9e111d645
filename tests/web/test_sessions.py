"""Dashboard sessions live in the bot's store: a second `serve` (another replica, or the same one after a
restart) keeps a signed-in reader signed in, signing out on one ends the session on all, a session ends
after SESSION_SECONDS, and the store holds neither the cookie's id nor the user's token in clear."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from bot.adapters.store import Store
from bot.adapters.store.schema import dashboard_sessions
from bot.app import create_app
from bot.demo.world import BotServer, free_port
from bot.web.auth import SESSION_COOKIE
from bot.web.sessions import SESSION_SECONDS, Sessions
from tests.web.conftest import MODEL, REPO, World

MODEL_PAGE = f"/repos/{REPO}/models/{MODEL}"


@contextmanager
def another_instance(world: World) -> Iterator[str]:
    """A second bot process's app: its own Store object, its own memory, the same database and secret."""
    store = Store(world.store.url)
    port = free_port()
    server = BotServer(create_app(world.settings, store=store, start_worker=False), port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        store.close()


def _cookie(client: httpx.Client) -> dict[str, str]:
    return {SESSION_COOKIE: client.cookies[SESSION_COOKIE]}


def test_a_session_started_on_one_instance_is_open_on_another_and_signing_out_ends_it_on_both(
    world: World,
) -> None:
    bob = world.sign_in("bob")
    with another_instance(world) as second_url:
        second = httpx.Client(base_url=second_url, cookies=_cookie(bob))
        page = second.get(MODEL_PAGE)
        assert page.status_code == 200 and "Champion: <strong>version 3</strong>" in page.text
        assert "bob" in page.text  # signed in as bob there too
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        assert second.post("/logout", data={"csrf": csrf.group(1)}).status_code == 303
        after = httpx.Client(base_url=second_url, cookies=_cookie(bob))
        assert after.get(MODEL_PAGE).status_code == 303  # the old cookie opens nothing on the second...
    first = bob.get(MODEL_PAGE)
    assert first.status_code == 303 and first.headers["location"].startswith("/login")  # ...nor the first


def test_a_session_survives_a_restart_of_the_only_instance(world: World) -> None:
    bob = world.sign_in("bob")
    with another_instance(world) as url:  # started after the sign-in: it never saw it happen
        assert httpx.Client(base_url=url, cookies=_cookie(bob)).get("/").status_code == 200


def test_a_session_ends_after_its_lifetime_and_the_store_keeps_no_id_or_token_in_clear(
    tmp_path: Path,
) -> None:
    now = [1_000_000.0]
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}", clock=lambda: now[0])
    sessions = Sessions(store, b"secret", clock=lambda: now[0])
    token = "gho_" + "t" * 36
    session = sessions.start("bob", token)
    with store._reader.connect() as conn:  # what a copy of the database would show
        rows = conn.execute(select(dashboard_sessions)).mappings().all()
    assert len(rows) == 1
    raw = repr(dict(rows[0]))
    assert token not in raw and token.encode() not in rows[0]["sealed_token"] and session.id not in raw
    found = sessions.get(session.id)
    assert found is not None and found.login == "bob" and found.token == token
    assert Sessions(store, b"another secret").get(session.id) is None  # sealed under the bot's secret only
    now[0] += SESSION_SECONDS - 1
    assert sessions.get(session.id) is not None
    now[0] += 2
    assert sessions.get(session.id) is None
    sessions.start("alice", "gho_" + "a" * 36)  # a new sign-in forgets the expired sessions
    with store._reader.connect() as conn:
        logins = list(conn.execute(select(dashboard_sessions.c.login)).scalars())
    assert logins == ["alice"]
    store.close()
