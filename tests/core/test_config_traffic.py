"""`drift.current: served`, its window and the traffic log's location, as a maintainer writes them."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.config import ConfigError, load_config

BASE = """\
version: 1
models:
  - name: clf
    stage: train
    output: model.pkl
    drift:
      current: served
      reference: data/train.csv
"""


def drift(extra: str = "") -> object:
    spec = load_config(BASE + extra, ".github/mlops-bot.yml").models[0].drift
    assert spec is not None
    return spec


def test_served_reads_the_last_seven_days_of_the_local_log_by_default() -> None:
    spec = drift()
    assert spec.served  # type: ignore[attr-defined]
    assert spec.window.interval == dt.timedelta(days=7)  # type: ignore[attr-defined]
    assert spec.traffic.location == "mlops-bot-traffic"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("extra", "window"),
    [("      window: {last: 12h}\n", dt.timedelta(hours=12)), ("      window: since-last-check\n", None)],
)
def test_window_is_a_duration_or_since_the_last_check(extra: str, window: dt.timedelta | None) -> None:
    spec = drift(extra)
    if window is None:
        assert spec.window == "since-last-check"  # type: ignore[attr-defined]
    else:
        assert spec.window.interval == window  # type: ignore[attr-defined]


def test_location_is_a_url_or_a_path_inside_the_repository() -> None:
    assert drift("      traffic: {location: s3://bucket/clf}\n").traffic.location == "s3://bucket/clf"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="not inside the repository; give a relative path or a URL"):
        drift("      traffic: {location: /var/log/clf}\n")
    with pytest.raises(ConfigError, match="'3x' is not a duration"):
        drift("      window: {last: 3x}\n")


def test_a_file_is_still_a_file() -> None:
    spec = load_config(BASE.replace("current: served", "current: prod.csv"), "x.yml").models[0].drift
    assert spec is not None and not spec.served
