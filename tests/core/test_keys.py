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


def test_job_keys_keep_the_text_handlers_built_by_hand_before() -> None:
    sha, merge = "a" * 40, "c" * 40
    assert keys.job_key("acme/m", pr=7, sha=sha) == f"acme/m#7@{sha}"  # a push trains its head once
    assert keys.job_key("acme/m", pr=7, sha=sha, comment_id=55) == f"acme/m#7@{sha}/c55"  # /train, /card
    assert keys.job_key("acme/m", sha=merge) == f"acme/m@{merge}"  # a merge promotes once
    assert keys.job_key("acme/m", sha=merge, comment_id=55) == f"acme/m@{merge}/c55"  # /promote after merge
    assert keys.job_key("acme/m", pr=7, comment_id=55) == "acme/m#7/c55"  # /promote --dry-run on a PR
    assert keys.job_key("acme/m", comment_id=55) == "acme/m/c55"  # /rollback, /drift
    assert keys.comment_effect(55) == "c55"


def test_job_keys_of_different_requests_never_collide() -> None:
    shas = ("a" * 40, "b" * 40, None)
    built = [
        keys.job_key(r, pr=p, sha=s, comment_id=c)
        for r, p, s, c in itertools.product(("acme/m", "acme/n"), (7, 8, None), shas, (55, 56, None))
    ]
    assert len(built) == len(set(built))
