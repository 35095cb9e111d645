"""Fixtures every suite that trains may use: the trained sample repository, and a private copy per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.sample_repo import TrainedSample, trained_sample


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedSample:
    return trained_sample(tmp_path_factory.getbasetemp())


@pytest.fixture
def sample(trained: TrainedSample, tmp_path: Path) -> Path:
    """A private copy of the trained sample repository."""
    return trained.copy(tmp_path / "repo")
