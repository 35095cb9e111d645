"""Loading a model for one call points MLflow's global URIs at its store and then puts back exactly what was
there, environment included: MLflow exports both URIs to os.environ "so that subprocesses inherit them", and a
registry URI left behind sent every later job of the process to the wrong registry ("Registered Model with
name=... not found", seen in the e2e suite)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.mlflow.models import global_tracking_uri

URIS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture
def clean_uris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    for name in URIS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)
    yield
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def test_the_global_uris_and_their_environment_are_put_back_as_they_were(
    tmp_path: Path, clean_uris: None
) -> None:
    import mlflow

    with global_tracking_uri(f"sqlite:///{tmp_path / 'a.db'}"):
        assert mlflow.get_registry_uri() == f"sqlite:///{tmp_path / 'a.db'}"
    assert {name: os.environ.get(name) for name in URIS} == {name: None for name in URIS}
    later = f"sqlite:///{tmp_path / 'b.db'}"
    with global_tracking_uri(later):
        assert mlflow.get_registry_uri() == later  # the registry follows the store, not an earlier one


def test_a_uri_the_process_was_given_stays(
    tmp_path: Path, clean_uris: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = f"sqlite:///{tmp_path / 'given.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", given)
    with global_tracking_uri(f"sqlite:///{tmp_path / 'other.db'}"):
        pass
    assert os.environ.get("MLFLOW_TRACKING_URI") == given


def test_loading_the_champion_for_a_check_leaves_no_registry_uri_behind(
    tmp_path: Path, clean_uris: None
) -> None:
    from bot.jobs.drift import load_champion

    with pytest.raises(Exception):  # noqa: B017  # no such model: what matters is what is left after
        load_champion(f"sqlite:///{tmp_path / 'empty.db'}", "churn")
    assert {name: os.environ.get(name) for name in URIS} == {name: None for name in URIS}
