"""`/healthz` counts the live workers of every replica, from the store's list of live processes."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.scale.cluster import wait_until


def test_healthz_counts_the_workers_alive_in_any_process(tmp_path: Path) -> None:
    settings = Settings(webhook_secret="s", database_url=f"sqlite:///{tmp_path / 'bot.db'}")  # type: ignore[call-arg]
    web = create_app(settings, start_worker=False)
    with TestClient(web) as client:
        health = client.get("/healthz").json()
        assert (health["status"], health["worker"], health["live_workers"]) == ("ok", False, 0)
        store = web.state.store
        assert [p.role for p in store.live_processes()] == ["serve"]  # the web process lists itself
        store.register_process("other-host:123:abc", "worker")  # a worker elsewhere
        assert client.get("/healthz").json()["live_workers"] == 1
        with TestClient(create_app(settings, handle=lambda _d: None, start_worker=True)):
            # + the in-process worker thread, which lists itself as it starts polling
            wait_until(lambda: client.get("/healthz").json()["live_workers"] == 2, 10, "the worker thread")
        assert client.get("/healthz").json()["live_workers"] == 1  # it left cleanly
    assert store.live_processes("serve") == []
