"""What the paired bootstrap of a same-data comparison costs (issue 14): 1,000 resamples of 100k rows.

    .venv/bin/python bench/evaluation.py [--rows 100000] [--resamples 1000] [--rounds 3]

Two binary classifiers' labels (and class probabilities) on the same rows, as the PR training scores them.
Timed in the same run, each the median of `--rounds`:

* bootstrap: `paired_bootstrap` for one metric (accuracy, then f1, then roc_auc), both models on the same
  `--resamples` draws, the interval of the difference included;
* baseline (loop): the same resamples the obvious way, sklearn.metrics' function on each resample's rows for
  both models in a Python loop; measured on 50 resamples and scaled to `--resamples` (a full loop of roc_auc
  takes minutes);
* baseline (one evaluation): sklearn.metrics' function once on all rows for both models, the floor any
  resampling pays per resample.

Prints each figure, the ratio bootstrap / loop, and whether the goal (< 5 s for one metric) is met.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn import metrics  # noqa: E402

from bot.jobs.evaluation.bootstrap import MetricRequest, Pair, paired_bootstrap  # noqa: E402
from bot.jobs.evaluation.scores import Labels  # noqa: E402

GOAL_S = 5.0
LOOP_SAMPLE = 50


def _models(rows: int) -> tuple[Labels, Labels, dict[str, Any]]:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, rows)
    scores = {}
    labels = []
    for quality in (0.9, 0.88):
        score = np.clip(truth * quality + rng.random(rows) * (1 - quality) * 2 - (1 - quality) / 2, 0, 1)
        predicted = (score >= 0.5).astype(int)
        scores[quality] = (predicted, score)
        labels.append(Labels(truth, predicted, (0, 1), 1, np.column_stack([1 - score, score])))
    return labels[0], labels[1], {"truth": truth, "scores": scores}


def _sklearn(name: str) -> Callable[[Any, Any, Any], float]:
    if name == "roc_auc":
        return lambda y, _p, s: float(metrics.roc_auc_score(y, s))
    if name == "f1":
        return lambda y, p, _s: float(metrics.f1_score(y, p))
    return lambda y, p, _s: float(metrics.accuracy_score(y, p))


def _median(rounds: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    candidate, champion, raw = _models(args.rows)
    truth = raw["truth"]
    (p1, s1), (p2, s2) = raw["scores"].values()
    print(f"rows {args.rows:,}, resamples {args.resamples:,}, load average {os.getloadavg()[0]:.1f}")
    print(
        f"{'metric':<10} {'bootstrap':>10} {'loop':>10} {'ratio':>7} {'one eval':>9}  goal < {GOAL_S:.0f} s"
    )
    for name in ("accuracy", "f1", "roc_auc"):
        pairs = [Pair(MetricRequest(name, name), candidate, champion)]
        bootstrap = _median(
            args.rounds, lambda pairs=pairs: paired_bootstrap(pairs, resamples=args.resamples, seed=0)
        )
        score = _sklearn(name)
        draws = np.random.default_rng(0).integers(0, args.rows, size=(LOOP_SAMPLE, args.rows))

        def loop(score: Callable[[Any, Any, Any], float] = score, draws: Any = draws) -> None:
            deltas = [score(truth[d], p1[d], s1[d]) - score(truth[d], p2[d], s2[d]) for d in draws]
            np.percentile(deltas, [2.5, 97.5])

        looped = _median(args.rounds, loop) * args.resamples / LOOP_SAMPLE
        once = _median(args.rounds, lambda score=score: (score(truth, p1, s1), score(truth, p2, s2)))
        met = "yes" if bootstrap < GOAL_S else "no"
        print(
            f"{name:<10} {bootstrap:>9.2f}s {looped:>9.1f}s {bootstrap / looped:>6.3f}x {once:>8.3f}s  {met}"
        )


if __name__ == "__main__":
    main()
