"""Facts: what `mlops-bot drift` measured, as written in its JSON summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bot.core.models import DriftSummary
from bot.core.monitoring.served import ServedFacts
from bot.core.monitoring.values import as_float


@dataclass(frozen=True)
class ColumnQuality:
    """One column of the champion's training data, as found in production."""

    column: str
    expected: str  # kind in the training data: number | text | bool | datetime
    found: str  # kind in production, or "absent"
    missing_share: float = 0.0
    out_of_range_share: float | None = None  # None: no range applies to this column
    low: float | None = None
    high: float | None = None
    example: str = ""  # a value that breaks the type, for the message


@dataclass(frozen=True)
class QualityFacts:
    rows: int
    duplicate_share: float | None  # None: not measured (no threshold configured)
    columns: tuple[ColumnQuality, ...]


@dataclass(frozen=True)
class MetricScore:
    name: str
    value: float | None  # None: not computable on these rows (one class only, say)


@dataclass(frozen=True)
class PerformanceFacts:
    status: Literal["scored", "no-labels", "unavailable"]
    label: str
    rows: int = 0
    labelled_rows: int = 0
    scores: tuple[MetricScore, ...] = ()
    note: str = ""  # why there are no labels, or why the champion could not be scored


@dataclass(frozen=True)
class ChampionFacts:
    version: str
    promoted_at: str = ""  # ISO 8601; "" when the registry does not say
    promoted_at_source: str = ""  # where promoted_at came from (a tag, or the version's creation)
    metrics: dict[str, float] = field(default_factory=dict)  # recorded by its run at promotion


@dataclass(frozen=True)
class CheckFacts:
    model: str
    check_id: str
    checked_at: str
    drift: DriftSummary | None  # None: not judged (the data's schema is broken)
    quality: QualityFacts | None = None  # None: not measured (a summary written before quality checks)
    performance: PerformanceFacts | None = None  # None: not configured
    champion: ChampionFacts | None = None
    drift_skipped: str = ""  # why drift was not judged
    served: ServedFacts | None = None  # None: the data was a file, not the service's traffic log


def facts_to_dict(facts: CheckFacts) -> dict[str, Any]:
    """The new keys of the JSON summary (next to the drift summary's own keys, which stay as they were)."""
    return {
        "check_id": facts.check_id,
        "checked_at": facts.checked_at,
        "drift_skipped": facts.drift_skipped,
        "quality": asdict(facts.quality) if facts.quality else None,
        "performance": asdict(facts.performance) if facts.performance else None,
        "champion": asdict(facts.champion) if facts.champion else None,
        "served": asdict(facts.served) if facts.served else None,
    }


def facts_from_dict(data: Mapping[str, Any], drift_summary: DriftSummary | None) -> CheckFacts:
    """The inverse of `facts_to_dict`; a summary from before these keys existed reads as a drift-only check."""
    quality = data.get("quality")
    performance = data.get("performance")
    champion = data.get("champion")
    served = data.get("served")
    return CheckFacts(
        model=str(data.get("model", "")),
        check_id=str(data.get("check_id") or ""),
        checked_at=str(data.get("checked_at") or ""),
        drift=None if data.get("drift_skipped") else drift_summary,
        drift_skipped=str(data.get("drift_skipped") or ""),
        quality=QualityFacts(
            rows=int(quality.get("rows", 0)),
            duplicate_share=as_float(quality.get("duplicate_share")),
            columns=tuple(
                ColumnQuality(**{k: v for k, v in c.items() if k in ColumnQuality.__dataclass_fields__})
                for c in quality.get("columns", [])
            ),
        )
        if isinstance(quality, dict)
        else None,
        performance=PerformanceFacts(
            **{
                **{k: v for k, v in performance.items() if k in PerformanceFacts.__dataclass_fields__},
                "scores": tuple(
                    MetricScore(str(s.get("name")), as_float(s.get("value")))
                    for s in performance.get("scores", [])
                ),
            }
        )
        if isinstance(performance, dict)
        else None,
        champion=ChampionFacts(
            **{k: v for k, v in champion.items() if k in ChampionFacts.__dataclass_fields__}
        )
        if isinstance(champion, dict)
        else None,
        served=_served(served) if isinstance(served, dict) else None,
    )


def _served(data: Mapping[str, Any]) -> ServedFacts:
    known = {k: v for k, v in data.items() if k in ServedFacts.__dataclass_fields__}
    versions = tuple((str(v[0]), int(v[1])) for v in known.pop("versions", []) if len(v) == 2)
    return ServedFacts(**known, versions=versions)
