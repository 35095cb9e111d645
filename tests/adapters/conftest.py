"""Fixtures for the DVC and MLflow adapter suites: the trained sample repository, fresh sqlite MLflow
stores, and the session's real `mlflow server`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from tests.support.mlflow_store import sqlite_registry
from tests.support.sample_repo import TrainedSample, trained_sample


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedSample:
    return trained_sample(tmp_path_factory.getbasetemp())


@pytest.fixture
def sample(trained: TrainedSample, tmp_path: Path) -> Path:
    """A private copy of the trained sample repository."""
    return trained.copy(tmp_path / "repo")


@pytest.fixture
def sqlite_store(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> MlflowRegistry:
    return sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())
