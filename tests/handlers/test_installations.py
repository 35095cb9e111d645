"""Issue 11 defect 6: an uninstalled App, or a repository taken from it, is forgotten.

Real parts: the GitHub stand-in minting real App installation tokens (PyGithub), the SQLite store, the
reconcile timer, and the production router (`bot.handlers.build_handler`). The stand-in cannot send
installation webhooks, so the deliveries are the octokit-shaped payloads in tests/handlers/payloads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.github import GitHubFactory
from bot.adapters.store import Store
from bot.core.events import Delivery
from bot.handlers.context import Context
from bot.handlers.installations import ROUTES
from bot.reconcile_timer import ReconcileTimer
from bot.settings import Settings
from bot.standin import StandIn
from bot.standin.testing import app_key_pair

# Shaped like @octokit/webhooks-examples; outside tests/fixtures/webhooks because the stand-in's schema subset
# (bot/standin/data/webhook-schemas.json) has no installation events to validate them against.
FIXTURES = Path(__file__).resolve().parent / "payloads"
APP_ID = 4343


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[StandIn, GitHubFactory, Store, dict[str, int]]]:
    private, public = app_key_pair()
    with StandIn(tmp_path / "github") as standin:
        standin.register_app(APP_ID, public)
        standin.create_user("acme")
        installs = {}
        for name in ("acme/model", "acme/other"):
            source = tmp_path / name.replace("/", "_")
            source.mkdir()
            (source / "README.md").write_text("x\n")
            standin.create_repo(name, source=source)
            installs[name] = standin.install_app(name)
        settings = Settings(
            MLOPS_BOT_GITHUB_BASE_URL=standin.base_url,
            app_id=APP_ID,
            private_key=private,
            github_throttle=False,
        )
        store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
        yield standin, GitHubFactory(settings, throttle=False), store, installs
        store.close()


def _payload(name: str, installation: int, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    payload["installation"]["id"] = installation
    payload.update(changes)
    return payload


def _deliver(
    store: Store, factory: GitHubFactory, delivery_id: str, event: str, payload: dict[str, Any]
) -> None:
    """What the app and the worker do with a delivery: record it, then run the production router on it."""
    store.accept(delivery_id, event, payload.get("action"), json.dumps(payload).encode())
    ctx = Context(settings=factory.settings, github=factory, enqueue=store.enqueue, history=store)
    handler = ROUTES.get(f"{event}.{payload.get('action')}")
    if handler is not None:
        handler(ctx, Delivery(id=delivery_id, event=event, action=payload.get("action"), payload=payload))


def _comment(store: Store, delivery_id: str, repo: str, installation: int) -> None:
    body = {"action": "created", "repository": {"full_name": repo}, "installation": {"id": installation}}
    store.accept(delivery_id, "issue_comment", "created", json.dumps(body).encode())


def test_the_installation_events_are_routed() -> None:
    from bot.app import HANDLED_EVENTS
    from bot.handlers import routes

    table = routes()
    assert "installation.deleted" in table and "installation_repositories.removed" in table
    assert {"installation", "installation_repositories"} <= HANDLED_EVENTS


def test_a_removed_repository_gets_no_reconcile_and_no_cached_token(world: Any) -> None:
    _standin, factory, store, installs = world
    model, other = installs["acme/model"], installs["acme/other"]
    _comment(store, "c1", "acme/model", model)
    _comment(store, "c2", "acme/other", other)
    assert set(store.recent_repositories()) == {"acme/model", "acme/other"}
    factory.token(other, "acme/other", permissions={"contents": "read"})
    factory.token(other, "acme/other", permissions={"contents": "read"})
    assert factory.app is not None and factory.app.mints == 1  # cached

    removed = _payload(
        "installation_repositories.removed.json",
        other,
        repositories_removed=[{"id": 1, "name": "other", "full_name": "acme/other", "private": False}],
    )
    _deliver(store, factory, "r1", "installation_repositories", removed)
    assert store.recent_repositories() == {"acme/model": model}
    timer = ReconcileTimer(store, 600, clock=lambda: 1000.0)
    assert timer.tick() == 1
    factory.token(other, "acme/other", permissions={"contents": "read"})
    assert factory.app.mints == 2, "the removed repository's token was forgotten, not reused"


def test_a_deleted_installation_is_forgotten_until_it_comes_back(world: Any) -> None:
    _standin, factory, store, installs = world
    model = installs["acme/model"]
    _comment(store, "c1", "acme/model", model)
    factory.for_repo("acme/model")
    mints = factory.app.mints
    factory.for_repo("acme/model")
    assert factory.app.mints == mints

    deleted = _payload(
        "installation.deleted.json",
        model,
        repositories=[{"id": 1, "name": "model", "full_name": "acme/model", "private": False}],
    )
    _deliver(store, factory, "u1", "installation", deleted)
    assert store.recent_repositories() == {}
    assert ReconcileTimer(store, 600, clock=lambda: 1000.0).tick() == 0
    factory.for_repo("acme/model")
    assert factory.app.mints == mints + 1

    _comment(store, "c2", "acme/model", model)  # installed again: heard from again
    assert store.recent_repositories() == {"acme/model": model}
