"""Keys of queue rows, locks and effects: the text running databases and GitHub already hold, and no two
different inputs sharing one key."""

from __future__ import annotations

import itertools

from bot.core import keys


def test_each_key_is_the_text_the_running_system_wrote_before() -> None:
    assert keys.job_row("promote", "c42") == "job:promote:c42"
    assert keys.reconcile_tick("acme/churn", 1234) == "job:reconcile:acme/churn@1234"
    assert (
        keys.reconcile_after_registry_event("acme/churn", "churn", "d-1")
        == "job:reconcile:acme/churn/churn/d-1"
    )
    assert keys.model_lock("churn") == "promote:churn"
    assert keys.promotion_deployment("churn", "run1") == "promote:churn@run1"
    assert keys.rollback_deployment("churn", "3", "2") == "rollback:churn:3->2"


def test_keys_for_different_inputs_never_collide() -> None:
    repos, models, ids = ("acme/churn", "acme/iris"), ("churn", "iris"), ("1", "2")
    built = [
        *(keys.job_row(k, i) for k, i in itertools.product(("promote", "rollback", "reconcile"), ids)),
        *(keys.reconcile_tick(r, b) for r, b in itertools.product(repos, (1, 2))),
        *(keys.reconcile_after_registry_event(r, m, i) for r, m, i in itertools.product(repos, models, ids)),
        *(keys.model_lock(m) for m in models),
        *(keys.promotion_deployment(m, i) for m, i in itertools.product(models, ids)),
        *(keys.rollback_deployment(m, a, b) for m, a, b in itertools.product(models, ids, ids) if a != b),
    ]
    assert len(built) == len(set(built))
