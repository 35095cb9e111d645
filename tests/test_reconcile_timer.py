"""The periodic reconcile queues one job per repository the bot has heard from, once per interval."""

from __future__ import annotations

import json
from pathlib import Path

from bot.adapters.store import Store
from bot.reconcile_timer import ReconcileTimer


def delivery(store: Store, delivery_id: str, repo: str, installation: int) -> None:
    body = {"action": "opened", "repository": {"full_name": repo}, "installation": {"id": installation}}
    store.accept(delivery_id, "pull_request", "opened", json.dumps(body).encode())


def test_one_reconcile_per_repository_per_interval(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    delivery(store, "d1", "acme/churn", 7)
    delivery(store, "d2", "acme/churn", 7)
    delivery(store, "d3", "acme/fraud", 8)
    now = [1000.0]
    timer = ReconcileTimer(store, 600, clock=lambda: now[0])
    assert timer.tick() == 2
    assert timer.tick() == 0, "the same interval queues nothing more (replicas share the key)"
    now[0] += 600
    assert timer.tick() == 2
    jobs = [r for r in store.list(limit=100) if r.event == "mlops-bot"]
    assert len(jobs) == 4 and {r.action for r in jobs} == {"reconcile"}
    claimed = []
    while (d := store.claim("w", 60)) is not None:
        if d.event == "mlops-bot":
            claimed.append((d.repo, d.installation_id))
        store.complete(d.id, "w")
    assert sorted(set(claimed)) == [("acme/churn", 7), ("acme/fraud", 8)]
