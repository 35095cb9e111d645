"""Traffic-log benchmark: the latency of one prediction from the bento the bot builds, with the traffic log
on against the same bento with it off (MLOPS_BOT_TRAFFIC_LOG=off), served side by side in the same run.

Setup (not timed): a scikit-learn pipeline on the breast-cancer data (30 columns) registered in a sqlite
MLflow registry, built into a bento by `build_service` (the promotion's own builder) with the traffic log
writing to a temporary folder (default batching: 1,000 rows or 5 s). Two `bentoml serve` processes of that
bento run at once on loopback, one with the log on, one with it off.

The client sends one-row `/predict` requests, alternating between the two servers (so load from other work
on the machine falls on both alike), over one keep-alive connection per server: --warmup requests each,
then --requests each, timed around each request. After the run it checks that the logging server wrote
every timed row (read back from the Parquet files) and reports the dropped-rows counter from /metrics.

    .venv/bin/python bench/traffic_log.py [--requests 2000] [--warmup 200] [--rows 1]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

# A script's own folder comes first on sys.path, where a bench file could shadow a package: it leaves the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(root: Path, traffic: Path) -> tuple[str, Path, pd.DataFrame]:
    import mlflow
    import sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from bot.adapters.bentoml import build_service

    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("bench", artifact_location=(root / "artifacts").as_uri())
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    with mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(
            model,
            name="model",
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            registered_model_name="bench-clf",
        )
    home = root / "bentoml-home"
    result = build_service(
        model_name="bench-clf",
        version="1",
        model_uri="models:/bench-clf/1",
        tracking_uri=uri,
        git_sha="0" * 40,
        out_dir=root / "dist",
        bentoml_home=home,
        traffic={"location": traffic.as_uri()},
    )
    return result.tag, home, x


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1, help="rows per request")
    args = parser.parse_args()

    from bot.adapters.bentoml import serve

    with tempfile.TemporaryDirectory(prefix="bench-traffic-") as tmp:
        root = Path(tmp)
        traffic = root / "traffic"
        tag, home, x = build(root, traffic)
        rows = x.to_numpy().tolist()
        latencies: dict[str, list[float]] = {"off": [], "on": []}
        with (
            serve(
                tag, port=free_port(), bentoml_home=home, extra_env={"MLOPS_BOT_TRAFFIC_LOG": "off"}
            ) as off,
            serve(tag, port=free_port(), bentoml_home=home) as on,
            httpx.Client(timeout=30) as client_off,
            httpx.Client(timeout=30) as client_on,
        ):
            servers = {"off": (off, client_off), "on": (on, client_on)}
            for i in range(args.warmup + args.requests):
                body = {"rows": [rows[(i + k) % len(rows)] for k in range(args.rows)]}
                order = ("off", "on") if i % 2 == 0 else ("on", "off")
                for name in order:
                    base, client = servers[name]
                    started = time.perf_counter()
                    answer = client.post(f"{base}/predict", json=body)
                    elapsed = time.perf_counter() - started
                    answer.raise_for_status()
                    if i >= args.warmup:
                        latencies[name].append(elapsed * 1000)
            time.sleep(6)  # one flush interval: what waits is written
            metrics = client_on.get(f"{on}/metrics").text
        dropped = [
            ln for ln in metrics.splitlines() if ln.startswith("mlops_bot_traffic_log_dropped_rows_total")
        ]
        files = sorted((traffic / "predictions").rglob("*.parquet"))
        written = sum(len(pd.read_parquet(f)) for f in files)

    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    print(f"{args.requests} timed requests per server, {args.rows} row(s) each, after {args.warmup} warm-up")
    print("| server | mean ms | p50 | p95 | p99 | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ("off", "on"):
        v = latencies[name]
        print(
            f"| log {name} | {statistics.mean(v):.2f} | {percentile(v, 50):.2f} | {percentile(v, 95):.2f} "
            f"| {percentile(v, 99):.2f} | {max(v):.2f} |"
        )
    for name in ("off", "on"):
        slowest = sorted(range(len(latencies[name])), key=lambda i: -latencies[name][i])[:3]
        shown = ", ".join(f"#{i}: {latencies[name][i]:.0f} ms" for i in slowest)
        print(f"slowest with log {name} (timed request number): {shown}")
    ratio = percentile(latencies["on"], 99) / percentile(latencies["off"], 99)
    print(f"p99 ratio (on / off): {ratio:.2f}x (goal <= 1.2x)")
    expected = (args.warmup + args.requests) * args.rows
    print(f"rows written by the logging server: {written} of {expected}; {len(files)} Parquet file(s)")
    print("dropped counter: " + ("; ".join(dropped) or "absent"))


if __name__ == "__main__":
    main()
