"""Fresh MLflow sqlite stores, fast: the schema migrations (~1-2 s) run once per session, and each test
gets a copy of that empty database."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

from bot.adapters.mlflow import MlflowRegistry


@cache
def _empty_database(base: Path) -> Path:
    folder = base / "mlflow-empty-store"
    folder.mkdir(parents=True, exist_ok=True)
    registry = MlflowRegistry(f"sqlite:///{folder / 'mlflow.db'}")
    registry.client.search_experiments(max_results=1)  # creates the tables
    return folder / "mlflow.db"


def sqlite_registry(folder: Path, *, base: Path) -> MlflowRegistry:
    """A registry on a new, empty sqlite store in `folder` (artifacts beside it)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_empty_database(base), folder / "mlflow.db")
    return MlflowRegistry(f"sqlite:///{folder / 'mlflow.db'}")
