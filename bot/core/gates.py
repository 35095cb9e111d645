"""Promotion gates: may this candidate replace the champion?

Each configured metric is judged against the champion (with its direction and tolerance) and against its
absolute floor (`min`) / ceiling (`max`); required approvals and required checks are judged too. Every
verdict carries a sentence a reviewer can read, e.g.
"f1 0.912 vs champion 0.925: dropped 0.013, more than the allowed 0.010".

A first model (no champion) is normal: it is judged by the absolute limits only. A metric the candidate did
not log is a failure (a gate that cannot be checked must not pass silently). A metric the champion lacks is
not compared (the champion predates the metric), which the reason says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.core.config import MetricSpec, ModelSpec, Promotion

# Conclusions a required check may have and still count as passed, as in GitHub branch protection:
# https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/collaborating-on-repositories-with-code-quality-features/troubleshooting-required-status-checks
PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
_EPS = 1e-9  # 0.925 - 0.915 is 0.01000000000000001 in binary; a drop equal to the tolerance passes

Conclusion = Literal["success", "failure", "neutral"]


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    reason: str
    judged: bool = True  # False for a note that decided nothing (no champion to compare, metric not gated)
    metric: str | None = None  # the metric this verdict is about, for the card's table


@dataclass(frozen=True)
class Decision:
    allowed: bool
    verdicts: tuple[Verdict, ...]

    @property
    def conclusion(self) -> Conclusion:
        """`failure` when a gate failed; `neutral` when nothing was judged (no gates configured, or a first
        model without absolute limits); `success` otherwise."""
        if not self.allowed:
            return "failure"
        return "success" if any(v.judged for v in self.verdicts) else "neutral"

    @property
    def failures(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.passed)

    def summary(self) -> str:
        """One line for a Check Run title or a reply."""
        if self.failures:
            names = ", ".join(v.name for v in self.failures)
            return f"gates failed: {names}"
        if self.conclusion == "neutral":
            return "no gates to judge"
        return "gates passed"


def evaluate(
    model: ModelSpec,
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    *,
    promotion: Promotion,
    approvals: int | None = None,
    checks: Mapping[str, str] | None = None,
) -> Decision:
    """Judge `candidate` metrics against `champion` metrics (None: there is no champion yet).

    `approvals` is the number of approving reviews and `checks` maps check names to conclusions; None
    means "not known" and fails a requirement that needs it (a gate we cannot check does not pass).
    """
    verdicts: list[Verdict] = []
    for spec in model.metrics:
        verdicts.extend(_metric_verdicts(spec, candidate, champion))
    if promotion.required_approvals:
        verdicts.append(_approvals_verdict(promotion.required_approvals, approvals))
    for name in promotion.required_checks:
        verdicts.append(_check_verdict(name, checks))
    return Decision(allowed=all(v.passed for v in verdicts), verdicts=tuple(verdicts))


def _metric_verdicts(
    spec: MetricSpec, candidate: Mapping[str, float], champion: Mapping[str, float] | None
) -> list[Verdict]:
    name = spec.name
    value = _number(candidate.get(name))
    if value is None:
        raw = candidate.get(name)
        what = "is missing from the candidate run" if raw is None else f"is not a number ({raw!r})"
        return [Verdict(name, False, f"{name} {what}; the run must log it to be judged", metric=name)]
    out: list[Verdict] = []
    if spec.min is not None:
        ok = value >= spec.min - _EPS
        word = "meets" if ok else "is below"
        out.append(
            Verdict(
                f"{name} ≥ {fmt(spec.min)}",
                ok,
                f"{name} {fmt(value)} {word} the floor {fmt(spec.min)}",
                metric=name,
            )
        )
    if spec.max is not None:
        ok = value <= spec.max + _EPS
        word = "is within" if ok else "is above"
        out.append(
            Verdict(
                f"{name} ≤ {fmt(spec.max)}",
                ok,
                f"{name} {fmt(value)} {word} the ceiling {fmt(spec.max)}",
                metric=name,
            )
        )
    out.append(_versus_champion(spec, value, champion))
    return out


def _versus_champion(spec: MetricSpec, value: float, champion: Mapping[str, float] | None) -> Verdict:
    name = spec.name
    if champion is None:
        return Verdict(
            name,
            True,
            f"{name} {fmt(value)}: no champion yet, nothing to compare with",
            judged=False,
            metric=name,
        )
    reference = _number(champion.get(name))
    if reference is None:
        return Verdict(
            name,
            True,
            f"{name} {fmt(value)}: the champion has no {name}, not compared",
            judged=False,
            metric=name,
        )
    # How much worse the candidate is, in the metric's own direction (negative: better).
    worse_by = reference - value if spec.direction == "higher" else value - reference
    a, b, d, t = fmt_group(value, reference, abs(worse_by), spec.tolerance)
    head = f"{name} {a} vs champion {b}"
    down = "dropped" if spec.direction == "higher" else "rose"
    if abs(worse_by) <= _EPS:
        return Verdict(name, True, f"{head}: unchanged", metric=name)
    if worse_by < 0:
        return Verdict(name, True, f"{head}: improved by {d}", metric=name)
    if worse_by <= spec.tolerance + _EPS:
        return Verdict(name, True, f"{head}: {down} {d}, within the allowed {t}", metric=name)
    return Verdict(name, False, f"{head}: {down} {d}, more than the allowed {t}", metric=name)


def _approvals_verdict(required: int, approvals: int | None) -> Verdict:
    name = "approvals"
    if approvals is None:
        return Verdict(name, False, f"{required} approving review(s) required; they could not be counted")
    ok = approvals >= required
    return Verdict(name, ok, f"{approvals} of {required} required approving review(s)")


def _check_verdict(name: str, checks: Mapping[str, str] | None) -> Verdict:
    label = f"check {name}"
    conclusion = None if checks is None else checks.get(name)
    if conclusion is None:
        return Verdict(label, False, f"required check {name!r} has not reported a result")
    ok = conclusion.lower() in PASSING_CONCLUSIONS
    return Verdict(label, ok, f"required check {name!r} concluded {conclusion}")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def fmt(value: float) -> str:
    """A metric value, short: 3 decimals for everyday values, 3 significant digits for tiny or huge ones."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e6:
        return f"{value:.3f}"
    return f"{value:.3g}"


def fmt_group(*values: float) -> tuple[str, ...]:
    """Values shown side by side with the same number of decimals (at least 3), enough that a non-zero one
    does not read as zero and two different ones do not read the same ("dropped 0.0101, more than the
    allowed 0.0100", not "dropped 0.010, more than the allowed 0.010")."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite or max(abs(v) for v in finite) >= 1e6:
        return tuple(fmt(v) for v in values)
    decimals = 3
    while decimals < 8 and not _distinct_at(finite, decimals):
        decimals += 1
    return tuple(f"{v:.{decimals}f}" if v else "0" for v in values)


def _distinct_at(values: list[float], decimals: int) -> bool:
    for i, a in enumerate(values):
        if a and round(a, decimals) == 0:
            return False
        for b in values[i + 1 :]:
            different = not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
            if different and round(a, decimals) == round(b, decimals):
                return False
    return True
