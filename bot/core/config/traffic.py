"""The config of the served model's traffic log (`drift.traffic`) and of the window `drift.current: served`
reads (`drift.window`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


def _log_location(value: str) -> str:
    """An fsspec URL (`s3://bucket/prefix`, `file:///srv/traffic`) or a path relative to the repository."""
    if "://" in value:
        return value
    text = value.replace("\\", "/")
    if not text.strip():
        raise ValueError("is empty; give a URL (s3://bucket/prefix) or a path relative to the repository")
    if text.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", text) or ".." in text.split("/"):
        raise ValueError(
            f"{value!r} is not inside the repository; give a relative path or a URL (file:///srv/traffic)"
        )
    return value


class TrafficLog(BaseModel):
    """Where the bot's BentoML service records each request (Parquet, partitioned by date and model version),
    and where `drift.current: served` and the labels that come back (`<location>/labels/`) are read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    location: Annotated[str, AfterValidator(_log_location)] = Field(
        "mlops-bot-traffic",
        description="An fsspec URL (s3://bucket/prefix) or a path: relative to the repository for the check, "
        "to the service's working directory when serving (MLOPS_BOT_TRAFFIC_LOG overrides it there).",
    )
    queue_rows: int = Field(
        10_000, ge=1, description="Rows waiting to be written; beyond it rows are dropped and counted."
    )
    batch_rows: int = Field(1_000, ge=1, description="Rows per Parquet file, at most.")
    flush_seconds: float = Field(
        5.0, gt=0, le=3600, description="Longest wait before waiting rows are written."
    )


class LastWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    last: str = Field("7d", description="How far back `current: served` reads: 12h, 7d, 2w.")

    @field_validator("last")
    @classmethod
    def _duration(cls, value: str) -> str:
        from bot.core.config import parse_duration  # the config's one duration grammar

        parse_duration(value)
        return value

    @property
    def interval(self) -> dt.timedelta:
        from bot.core.config import parse_duration

        return parse_duration(self.last)
