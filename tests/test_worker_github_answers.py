"""Issue 11 defect 4: a permanent GitHub answer (404/410, 422) ends the delivery `done` with a note.

GitHub's own example payloads (tests/fixtures/webhooks) name a repository and an installation the App on
the stand-in has never seen; the real handlers, PyGithub and the worker meet the stand-in's real answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.store import DONE, Store
from bot.app import HANDLED_EVENTS
from bot.cli.deliveries import render_table
from bot.handlers import build_handler
from bot.settings import Settings
from bot.standin import StandIn
from bot.standin.testing import app_key_pair
from bot.worker import Worker

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "webhooks"
APP_ID = 5151


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, Worker]]:
    private, public = app_key_pair()
    with StandIn(tmp_path / "github") as standin:
        standin.register_app(APP_ID, public)
        settings = Settings(
            MLOPS_BOT_GITHUB_BASE_URL=standin.base_url,
            app_id=APP_ID,
            private_key=private,
            github_throttle=False,
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        )
        store = Store(settings.database_url)
        worker = Worker(store, build_handler(settings, store), max_attempts=5, retry_base_seconds=0.01)
        yield store, worker
        store.close()


def test_githubs_example_payloads_for_an_unseen_repository_end_done_with_a_note(
    world: tuple[Store, Worker],
) -> None:
    store, worker = world
    names = sorted(p.name for p in FIXTURES.glob("*.json") if p.name.split(".")[0] in HANDLED_EVENTS)
    assert len(names) >= 6
    for name in names:
        event, action = name.split(".")[:2]
        payload = (FIXTURES / name).read_bytes()
        store.accept(name, event, action, payload, json.loads(payload)["repository"]["full_name"])
    commands = []
    for name in [n for n in names if n.startswith("issue_comment.")]:  # the same comments, as commands
        body = json.loads((FIXTURES / name).read_text())
        body["comment"]["body"] = "/help"
        commands.append(f"{name}+help")
        store.accept(commands[-1], "issue_comment", "created", json.dumps(body).encode(), "")
    for _ in range(200):
        if not worker.run_once() and not any(r.status != DONE for r in store.list(limit=100)):
            break
    rows = {r.id: r for r in store.list(limit=100)}
    everything = names + commands
    assert {n: rows[n].status for n in everything} == dict.fromkeys(everything, DONE)
    assert {n: rows[n].attempts for n in everything} == dict.fromkeys(everything, 1), "not retried"
    # A comment that is no command, or a PR closed unmerged, needs nothing from GitHub: done, nothing to note.
    # Every other delivery met a 404 and says so.
    quiet = {n for n in names if n.startswith("issue_comment.")} | {"pull_request.closed.json"}
    reached = [n for n in everything if n not in quiet]
    assert len(reached) >= 5
    for name in reached:
        note = rows[name].note or ""
        assert note.startswith("ignored") and "404" in note, (name, note)
        assert rows[name].last_error is None, (name, rows[name].last_error)
    table = render_table([r.to_dict() for r in rows.values()])
    assert "NOTE" in table and "ignored" in table
