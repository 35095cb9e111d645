"""Small value helpers shared by the monitoring modules: times, percentages, lenient JSON reads."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from bot.core.gates import fmt


def parse_time(value: str | None) -> dt.datetime | None:
    """An ISO 8601 time (a naive one is UTC), or None."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc(parsed)


def as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def as_day(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def as_pct(share: float) -> str:
    return f"{share:.1%}" if 0 < share < 0.01 else f"{share:.0%}"


def as_range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"[{fmt(low)}, {fmt(high)}]"
    return f"≥ {fmt(low)}" if low is not None else f"≤ {fmt(high)}" if high is not None else "its range"


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def as_positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def as_non_negative_int(value: Any) -> int:
    return max(0, value) if isinstance(value, int) and not isinstance(value, bool) else 0


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
