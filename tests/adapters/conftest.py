"""Fixtures for the DVC and MLflow adapter suites: the trained sample repository, fresh sqlite MLflow
stores, and the session's real `mlflow server`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from tests.support.mlflow_store import sqlite_registry


@pytest.fixture
def sqlite_store(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> MlflowRegistry:
    return sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())
