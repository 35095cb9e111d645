"""Promotion gates: may this candidate replace the champion?

Each configured metric is judged against the champion (with its direction and tolerance) and against its
absolute floor (`min`) / ceiling (`max`); required approvals and required checks are judged too. Every
verdict carries a sentence a reviewer can read, e.g.
"f1 0.912 vs champion 0.925: dropped 0.013, more than the allowed 0.010".

A first model (no champion) is normal: it is judged by the absolute limits only. A metric the candidate did
not log is a failure (a gate that cannot be checked must not pass silently). A metric the champion lacks is
not compared (the champion predates the metric), which the reason says.

When the champion was re-scored on the candidate's evaluation data (`same_data`, bot/core/evaluation.py),
a metric both were scored on is judged by that comparison, not by the two recorded values (each measured
on its own split): its difference with the bootstrap interval, and, with `significant: true`, whether that
interval tells the two apart. `promotion.same_data: required` fails a candidate that has a champion but no
such comparison; `slice_tolerance` fails one whose worst slice got worse by more.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.core.config import MetricSpec, ModelSpec, Promotion
from bot.core.evaluation import MetricComparison, SameDataComparison

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
    same_data: SameDataComparison | None = None,
) -> Decision:
    """Judge `candidate` metrics against `champion` metrics (None: there is no champion yet).

    `approvals` is the number of approving reviews and `checks` maps check names to conclusions; None
    means "not known" and fails a requirement that needs it (a gate we cannot check does not pass).
    `same_data` is the champion re-scored on the candidate's evaluation rows, when it was.
    """
    verdicts: list[Verdict] = []
    fair = same_data if same_data is not None and same_data.ok and champion is not None else None
    if promotion.same_data == "required" and champion is not None and fair is None:
        verdicts.append(_same_data_required(model, same_data))
    for spec in model.metrics:
        compared = fair.metric(spec.name) if fair is not None else None
        if compared is not None and fair is not None:
            verdicts.extend(_floor_verdicts(spec, candidate.get(spec.name), compared.candidate))
            verdicts.append(_same_data_verdict(spec, compared, fair))
            verdicts.extend(_slice_verdicts(spec, fair))
        else:
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
    return [*_limits(spec, value), _versus_champion(spec, value, champion)]


def _floor_verdicts(spec: MetricSpec, recorded: object, same_data: float) -> list[Verdict]:
    """The absolute limits judge what the run recorded; a run that recorded nothing, its same-data score."""
    value = _number(recorded)
    return _limits(spec, value if value is not None else same_data)


def _limits(spec: MetricSpec, value: float) -> list[Verdict]:
    name = spec.name
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
    return out


def _same_data_required(model: ModelSpec, same_data: SameDataComparison | None) -> Verdict:
    if model.evaluation is None:
        why = f"model {model.name} has no `evaluation:` to score the champion on"
    elif same_data is None:
        why = "the champion was not re-scored on this candidate's evaluation data"
    else:
        why = f"the comparison failed: {same_data.error}"
    return Verdict("same data", False, f"promotion.same_data is required, but {why}")


def _same_data_verdict(spec: MetricSpec, compared: MetricComparison, fair: SameDataComparison) -> Verdict:
    name = spec.name
    a, b, d, t = fmt_group(compared.candidate, compared.champion, abs(compared.worse_by), spec.tolerance)
    low, high = fmt_signed(compared.low), fmt_signed(compared.high)
    percent = f"{fair.confidence * 100:.0f} %"
    head = (
        f"{name} on the same data ({fair.rows} rows of {fair.data}): {a} vs champion {b}, "
        f"Δ {fmt_signed(compared.delta)} [{low}, {high}] ({percent} interval), {compared.verdict}"
    )
    worse_by = compared.worse_by
    down = "dropped" if spec.direction == "higher" else "rose"
    within = worse_by <= spec.tolerance + _EPS
    if spec.significant and compared.verdict != "better":
        if compared.verdict == "not distinguishable" and within and spec.tolerance > 0:
            return Verdict(name, True, f"{head}: within noise and the allowed {t}", metric=name)
        if compared.verdict == "not distinguishable":
            need = "an improvement the interval shows (significant: true)"
            return Verdict(name, False, f"{head}: not an improvement; the gate asks for {need}", metric=name)
    if worse_by <= _EPS:
        word = "unchanged" if abs(worse_by) <= _EPS else f"improved by {d}"
        return Verdict(name, True, f"{head}: {word}", metric=name)
    if within:
        return Verdict(name, True, f"{head}: {down} {d}, within the allowed {t}", metric=name)
    return Verdict(name, False, f"{head}: {down} {d}, more than the allowed {t}", metric=name)


def _slice_verdicts(spec: MetricSpec, fair: SameDataComparison) -> list[Verdict]:
    if spec.slice_tolerance is None or not fair.slices:
        return []
    label = f"{spec.name} per slice"
    worst = fair.worst_slice_regression({spec.name: spec.slice_tolerance})
    if worst is None:
        count = sum(1 for s in fair.slices if s.metric(spec.name) is not None)
        reason = f"{spec.name}: no slice of {count} worse than the champion by more than {fmt(spec.slice_tolerance)}"
        return [Verdict(label, True, reason, metric=spec.name)]
    reason = f"{worst.describe()}, more than the allowed {fmt(spec.slice_tolerance)}"
    return [Verdict(label, False, reason, metric=spec.name)]


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


def fmt_signed(value: float) -> str:
    """A difference with its sign: +0.012, -0.004, 0."""
    if not math.isfinite(value):
        return "–"
    if value == 0:
        return "0"
    (text,) = fmt_group(abs(value))
    return f"+{text}" if value > 0 else f"-{text}"


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
