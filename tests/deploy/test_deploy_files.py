"""deploy/: the Prometheus alert rules and the Grafana dashboard read only series the bot exports, and the
rule file is one Prometheus would load (promtool's checks in Python; promtool itself too when installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.store import Store
from bot.app import create_app
from bot.core.monitoring.history import CheckRecord
from bot.metrics_health import MODEL_SERIES, QUEUE_SERIES
from bot.settings import Settings
from tests.support import promql

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "mlops-bot.json"
PROMETHEUS_OWN = {"up"}  # series Prometheus itself records for every scrape target


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every series name /metrics answers (name -> type) with one checked model and one finished job; a
    labelled counter or histogram nothing has observed yet counts by the series its type will show."""
    folder = tmp_path_factory.mktemp("metrics")
    store = Store(f"sqlite:///{folder / 'bot.db'}")
    store.record_check(
        "acme/churn",
        CheckRecord(
            model="churn",
            check_id="c1",
            checked_at="2025-01-10T06:00:00+00:00",
            drift_share=0.5,
            dataset_drift=True,
            performance={"accuracy": 0.91},
            quality_status="pass",
            champion_version="4",
            promoted_at="2025-01-01T00:00:00+00:00",
            fired=("drift",),
            retrain_pr=12,
        ),
    )
    store.enqueue("job:drift:acme/churn@1", "mlops-bot", "drift", {"repository": {"full_name": "acme/churn"}})
    claimed = store.claim("w1", lease_seconds=60)
    assert claimed is not None and store.complete(claimed.id, "w1")
    store.register_process("w1", "worker")
    app = create_app(Settings(webhook_secret="s"), store=store, start_worker=False)
    with TestClient(app) as client:
        client.post("/webhook", content=b"{}", headers={"X-GitHub-Event": "push"})  # a refused delivery
        text = client.get("/metrics").text
    store.close()
    names: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        names.update({sample.name: family.type for sample in family.samples})
        names.update({family.name + suffix: family.type for suffix in _SERIES_OF[family.type]})
    return names


_SERIES_OF = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
    "gauge": ("",),
}


def test_metrics_export_model_and_queue_health_per_repository_and_model(exported: dict[str, str]) -> None:
    for name in (*MODEL_SERIES, "mlops_bot_deliveries", "mlops_bot_live_workers"):
        assert name in exported, name
    assert {"mlops_bot_job_run_seconds_count", "mlops_bot_job_run_seconds_sum"} <= set(exported)
    assert set(QUEUE_SERIES) - {"mlops_bot_job_run_seconds"} <= set(exported)


def test_the_alert_rules_are_a_rule_file_prometheus_loads() -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    assert promql.check_rule_file(rules) == []
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {
        "MlopsBotDriftPersists",
        "MlopsBotPerformanceDrop",
        "MlopsBotFailedDeliveries",
        "MlopsBotNoLiveWorker",
    } <= alerts
    promtool = shutil.which("promtool")
    if promtool:
        done = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_checker_catches_what_a_hand_edit_breaks() -> None:
    assert promql.check_expr("sum(rate(x_total[5m])") != []  # unclosed
    assert promql.check_expr("rate(x_total[5 minutes])") != []
    assert promql.check_expr("summ by (a) (x)") != []
    broken = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "x", "for": "1 hour"}]}]}
    assert promql.check_rule_file(broken) == ["g/A: bad `for` '1 hour'"]
    assert promql.metric_names('max by (repository) (a_b{trigger="drift"}) == 1 and on (x) c') == {"a_b", "c"}


def test_every_query_of_the_alerts_and_the_dashboard_reads_a_series_the_bot_exports(
    exported: dict[str, str],
) -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [r["expr"] for g in rules["groups"] for r in g["rules"]] + list(
        promql.grafana_queries(dashboard)
    )
    assert len(queries) > 20
    known = set(exported) | PROMETHEUS_OWN
    for query in queries:
        assert promql.check_expr(query) == [], query
        unknown = promql.metric_names(query) - known
        assert not unknown, f"{query!r} reads {sorted(unknown)}, which /metrics does not export"


def test_the_dashboard_shows_each_model_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    read = set().union(*(promql.metric_names(q) for q in promql.grafana_queries(dashboard)))
    assert set(MODEL_SERIES) <= read
    assert {"mlops_bot_deliveries_received_total", "mlops_bot_queue_depth", "mlops_bot_live_workers"} <= read
