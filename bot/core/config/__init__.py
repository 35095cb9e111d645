"""Repository configuration: `.github/mlops-bot.yml`, always read from the default branch.

The model is pydantic (`models`); the file is read with ruamel.yaml so an error can name the line of the
offending key (`loader`), after bounds on the YAML itself (`limits`). `load_config(text, path)` is the one
entry point.
"""

from __future__ import annotations

from bot.core.config.errors import ConfigError
from bot.core.config.limits import MAX_DEPTH
from bot.core.config.loader import CONFIG_PATH, blob_sha, config_schema, line_of, load_config
from bot.core.config.models import (
    Aliases,
    DriftSpec,
    MetricSpec,
    ModelSpec,
    PerformanceSpec,
    Permissions,
    Promotion,
    QualitySpec,
    RepoConfig,
    RetrainSchedule,
    parse_duration,
)

__all__ = [
    "CONFIG_PATH",
    "MAX_DEPTH",
    "Aliases",
    "ConfigError",
    "DriftSpec",
    "MetricSpec",
    "ModelSpec",
    "PerformanceSpec",
    "Permissions",
    "Promotion",
    "QualitySpec",
    "RepoConfig",
    "RetrainSchedule",
    "blob_sha",
    "config_schema",
    "line_of",
    "load_config",
    "parse_duration",
]
