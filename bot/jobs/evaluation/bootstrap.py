"""The paired bootstrap: both models scored on the same resamples of the same rows.

Each resample draws n row indices with replacement (seeded, so a card can be reproduced); the candidate and
the champion are scored on that same draw, and the spread of the differences over the resamples is the
interval (percentiles). The draws are made in chunks of about `CHUNK_CELLS` indices and counted into a
counts matrix (resamples x rows; one bincount per resample, whose row of counts stays in the CPU cache); every
score is then a product of that matrix with a few per-row columns, or for roc_auc one cumulative sum over it
(bot/jobs/evaluation/scores.py): no Python loop over rows, and none over resamples but the counting.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.jobs.evaluation.scores import Floats, Labels, RocAuc, Score, score

CHUNK_CELLS = 4_000_000  # counts per chunk: 32 MB of float64, whatever the number of rows


@dataclass(frozen=True)
class MetricRequest:
    name: str
    score: str  # a key of bot.core.config.evaluation.SCORE_DIRECTIONS
    average: str | None = None


@dataclass(frozen=True)
class PairedResult:
    name: str
    candidate: float
    champion: float
    low: float
    high: float
    deltas: Floats  # candidate - champion, one per resample (NaN where the score is undefined)


class _Scorer:
    """One metric of one model: its per-row columns computed once, applied to any resamples."""

    def __init__(self, request: MetricRequest, labels: Labels) -> None:
        self.labels = labels
        self.auc = RocAuc(labels) if request.score == "roc_auc" else None
        self.columns: Floats | None = None
        if self.auc is None:
            self.definition: Score = score(request.score, average=request.average, positive=labels.positive)
            self.columns = self.definition.columns(labels)

    def __call__(self, counts: Floats) -> Floats:
        if self.auc is not None:
            return self.auc(counts)
        assert self.columns is not None
        return self.definition.combine(counts @ self.columns, counts.sum(axis=1))

    def point(self) -> float:
        """The score on all rows once (every count 1)."""
        return float(self(np.ones((1, self.labels.rows)))[0])


def resample(rows: int, resamples: int, seed: int) -> Iterator[NDArray[np.int64]]:
    """`resamples` bootstrap draws of `rows` row indices (chunk x rows at a time) from one seeded generator."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, min(resamples, CHUNK_CELLS // max(rows, 1)))
    done = 0
    while done < resamples:
        size = min(per_chunk, resamples - done)
        yield rng.integers(0, rows, size=(size, rows))
        done += size


def row_counts(draws: NDArray[np.int64], rows: int) -> Floats:
    """How often each row was drawn, per resample. Counted one resample at a time: a bincount into one
    row's worth of counts stays in the CPU cache, a whole chunk's would not."""
    counts = np.empty((draws.shape[0], rows))
    for i, drawn in enumerate(draws):
        counts[i] = np.bincount(drawn, minlength=rows)
    return counts


@dataclass(frozen=True)
class Pair:
    """One metric, and both models' labels on the same rows in the same order."""

    request: MetricRequest
    candidate: Labels
    champion: Labels


def paired_bootstrap(
    pairs: Sequence[Pair], *, resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> list[PairedResult]:
    """Each metric of both models on all rows, and the interval of their difference over `resamples`
    paired resamples: every metric and both models see the same draws."""
    if not pairs:
        return []
    rows = pairs[0].candidate.rows
    if any(p.candidate.rows != rows or p.champion.rows != rows for p in pairs):
        raise ValueError("the models were not scored on the same rows")
    scorers = [(p.request, _Scorer(p.request, p.candidate), _Scorer(p.request, p.champion)) for p in pairs]
    deltas: dict[str, list[Floats]] = {p.request.name: [] for p in pairs}
    for draws in resample(rows, resamples, seed):
        counts = row_counts(draws, rows)
        for request, of_candidate, of_champion in scorers:
            deltas[request.name].append(of_candidate(counts) - of_champion(counts))
    tail = (1.0 - confidence) / 2 * 100
    results = []
    for request, of_candidate, of_champion in scorers:
        spread = np.concatenate(deltas[request.name])
        finite = spread[np.isfinite(spread)]
        low, high = (
            (float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail)))
            if finite.size
            else (float("nan"), float("nan"))
        )
        results.append(
            PairedResult(
                name=request.name,
                candidate=of_candidate.point(),
                champion=of_champion.point(),
                low=low,
                high=high,
                deltas=spread,
            )
        )
    return results


def point_value(request: MetricRequest, labels: Labels) -> float:
    """One model's score on all rows (a slice's, say); NaN where it is undefined there."""
    return _Scorer(request, labels).point()
