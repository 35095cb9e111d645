"""Model health on /metrics comes from the store's newest check of each model, read at most once per ttl."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.store import Store
from bot.core.monitoring.history import CheckRecord
from bot.metrics import Metrics
from bot.metrics_health import HealthCollector
from tests.support.clock import ManualClock


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_newest_check_of_each_model_sets_its_gauges_and_scrapes_are_cached(tmp_path: Path) -> None:
    clock = ManualClock(1_736_500_000.0)  # 2025-01-10T09:06:40Z
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}", clock=clock)
    metrics = Metrics()
    metrics.watch_health(HealthCollector(store, ttl=15, clock=clock))
    old = CheckRecord(model="churn", check_id="a", checked_at="2025-01-09T06:00:00Z", drift_share=0.1)
    store.record_check("acme/churn", old)
    new = CheckRecord(
        model="churn",
        check_id="b",
        checked_at="2025-01-10T06:00:00Z",
        drift_share=0.6,
        performance={"accuracy": 0.8},
        quality_status="schema-break",
        champion_version="7",
        promoted_at="2025-01-10T09:00:00Z",
        fired=("drift", "quality"),
        retrain_pr=3,
    )
    store.record_check("acme/churn", new)
    labels = (("model", "churn"), ("repository", "acme/churn"))
    got = _samples(metrics)
    assert got[("mlops_bot_model_drift_share", labels)] == 0.6
    assert got[("mlops_bot_model_champion_version", labels)] == 7
    assert got[("mlops_bot_model_seconds_since_promotion", labels)] == 400
    assert got[("mlops_bot_model_performance", (("metric", "accuracy"), *labels))] == 0.8
    assert got[("mlops_bot_model_data_quality", (*labels, ("state", "schema-break")))] == 1
    assert got[("mlops_bot_model_data_quality", (*labels, ("state", "pass")))] == 0
    assert got[("mlops_bot_model_trigger_fired", (*labels, ("trigger", "drift")))] == 1
    assert got[("mlops_bot_model_trigger_fired", (*labels, ("trigger", "performance")))] == 0
    assert got[("mlops_bot_model_retrain_pr_open", labels)] == 1

    store.record_check(
        "acme/churn", CheckRecord(model="churn", check_id="c", checked_at="2025-01-10T07:00:00Z")
    )
    clock.advance(5)
    assert _samples(metrics)[("mlops_bot_model_drift_share", labels)] == 0.6  # cached: no query yet
    assert _samples(metrics)[("mlops_bot_model_seconds_since_promotion", labels)] == 405  # the clock moves
    clock.advance(15)
    after = _samples(metrics)
    assert ("mlops_bot_model_drift_share", labels) not in after  # the newest check did not judge drift
    assert after[("mlops_bot_model_retrain_pr_open", labels)] == 0
    store.close()


def test_the_champion_is_the_newer_of_the_last_move_and_the_last_check(tmp_path: Path) -> None:
    from bot.adapters.store import ChampionMove

    clock = ManualClock(1_736_500_000.0)  # 2025-01-10T09:06:40Z
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}", clock=clock)
    metrics = Metrics()
    metrics.watch_health(HealthCollector(store, ttl=0, clock=clock))
    labels = (("model", "churn"), ("repository", "acme/churn"))
    version, since = "mlops_bot_model_champion_version", "mlops_bot_model_seconds_since_promotion"
    store.record_champion_move(ChampionMove("acme/churn", "churn", "4", "r4", "promote", clock() - 100))
    got = _samples(metrics)  # promoted, never checked: the champion alone is known
    assert got[(version, labels)] == 4 and got[(since, labels)] == 100
    assert ("mlops_bot_model_retrain_pr_open", labels) not in got
    check = CheckRecord(
        model="churn", check_id="a", checked_at="2025-01-10T09:05:30Z", champion_version="5",
        promoted_at="2025-01-10T09:04:00Z",
    )  # fmt: skip
    store.record_check("acme/churn", check)  # a later check saw v5 (someone moved the alias by hand)
    got = _samples(metrics)
    assert got[(version, labels)] == 5 and got[(since, labels)] == 160
    store.record_champion_move(ChampionMove("acme/churn", "churn", "3", "r3", "rollback", clock()))
    assert _samples(metrics)[(version, labels)] == 3  # a rollback after that check: at once
    store.close()
