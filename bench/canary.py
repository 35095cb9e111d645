"""Canary benchmark: what serving a candidate beside the champion costs one prediction, shadow scoring included
(each request is scored by both models: the routed one answers, the other's prediction is logged beside it).

Setup (not timed): two scikit-learn pipelines on the breast-cancer data (30 columns) registered as versions 1
and 2 in a sqlite MLflow registry, built by `build_service` (the bot's own builder) into three bentos: the
champion alone; the canary (v2 answers 10 % of the requests) with shadow scoring; the same canary without it.
All three log their traffic, each to its own folder (default batching: 1,000 rows or 5 s), and are served at
once on loopback.

The client sends one-row `/predict` requests, in turn to each server (the order rotating, so load from other
work on the machine falls on all alike), over one keep-alive connection per server: --warmup requests each,
then --requests each, timed around each request. After the run it counts the rows each server wrote to
`predictions/` and `shadow/`.

    .venv/bin/python bench/canary.py [--requests 2000] [--warmup 200] [--share 0.1]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

# A script's own folder comes first on sys.path, where a bench file could shadow a package: it leaves the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SERVERS = ("champion alone", "canary + shadow", "canary, no shadow")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(root: Path, share: float) -> tuple[dict[str, str], Path, pd.DataFrame]:
    import mlflow
    import sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from bot.adapters.bentoml import CanaryModel, build_service

    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("bench", artifact_location=(root / "artifacts").as_uri())
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    for c in (1.0, 0.1):
        with mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(
                make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500)).fit(x, y),
                name="model",
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
                registered_model_name="bench-clf",
            )
    home = root / "bentoml-home"
    tags = {}
    for name in SERVERS:
        canary = (
            None
            if name == "champion alone"
            else CanaryModel("2", "models:/bench-clf/2", share, shadow=name == "canary + shadow")
        )
        result = build_service(
            model_name="bench-clf",
            version="1",
            model_uri="models:/bench-clf/1",
            tracking_uri=uri,
            git_sha="0" * 40,
            out_dir=root / "dist" / name.replace(" ", "-").replace(",", "").replace("+", "and"),
            bentoml_home=home,
            traffic={"location": str(root / "unused")},  # each server is told its own (MLOPS_BOT_TRAFFIC_LOG)
            canary=canary,
        )
        tags[name] = result.tag
    return tags, home, x


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def written(folder: Path) -> int:
    files = sorted(folder.rglob("*.parquet"))
    return sum(len(pd.read_parquet(f)) for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--share", type=float, default=0.1)
    args = parser.parse_args()

    from bot.adapters.bentoml import serve

    with tempfile.TemporaryDirectory(prefix="bench-canary-") as tmp:
        root = Path(tmp)
        tags, home, x = build(root, args.share)
        rows = x.to_numpy().tolist()
        latencies: dict[str, list[float]] = {name: [] for name in SERVERS}
        answered_by: dict[str, dict[str, int]] = {name: {} for name in SERVERS}
        with ExitStack() as stack:
            servers: dict[str, tuple[str, Any, Path]] = {}
            for name in SERVERS:
                cwd = root / f"serve-{len(servers)}"
                cwd.mkdir()
                log = {"MLOPS_BOT_TRAFFIC_LOG": str(cwd / "traffic")}
                base = stack.enter_context(
                    serve(tags[name], port=free_port(), bentoml_home=home, extra_env=log)
                )
                servers[name] = (base, stack.enter_context(httpx.Client(timeout=30)), cwd)
            for i in range(args.warmup + args.requests):
                body = {"rows": [rows[i % len(rows)]]}
                order = SERVERS[i % 3 :] + SERVERS[: i % 3]
                for name in order:
                    base, client, _ = servers[name]
                    started = time.perf_counter()
                    answer = client.post(f"{base}/predict", json=body)
                    elapsed = time.perf_counter() - started
                    answer.raise_for_status()
                    if i >= args.warmup:
                        latencies[name].append(elapsed * 1000)
                        version = answer.headers.get("X-Model-Version", "?")
                        answered_by[name][version] = answered_by[name].get(version, 0) + 1
            time.sleep(6)  # one flush interval: what waits is written
            logged = {
                name: (written(cwd / "traffic" / "predictions"), written(cwd / "traffic" / "shadow"))
                for name, (_, _, cwd) in servers.items()
            }

    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    print(
        f"{args.requests} timed one-row requests per server after {args.warmup} warm-up; share {args.share}"
    )
    print(
        "| server | mean ms | p50 | p95 | p99 | max | p99 / champion alone | answered by | rows logged / shadow |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    base_p99 = percentile(latencies["champion alone"], 99)
    for name in SERVERS:
        v = latencies[name]
        share = ", ".join(f"v{k}: {n}" for k, n in sorted(answered_by[name].items()))
        print(
            f"| {name} | {statistics.mean(v):.2f} | {percentile(v, 50):.2f} | {percentile(v, 95):.2f} "
            f"| {percentile(v, 99):.2f} | {max(v):.2f} | {percentile(v, 99) / base_p99:.2f}x | {share} "
            f"| {logged[name][0]} / {logged[name][1]} |"
        )


if __name__ == "__main__":
    main()
