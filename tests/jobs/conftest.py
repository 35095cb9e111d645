"""Fixtures for the train job: the trained sample repository and a fresh sqlite MLflow store per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.core.config import RepoConfig, load_config
from tests.support.mlflow_store import sqlite_registry


@pytest.fixture
def registry(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> MlflowRegistry:
    return sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())


@pytest.fixture
def sample_config(sample: Path) -> RepoConfig:
    return load_config((sample / ".github" / "mlops-bot.yml").read_text())
