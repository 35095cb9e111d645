"""A registered model belongs to the repository that registered it (issue 18, finding 3).

On a real sqlite MLflow store: two registries scoped to two repositories share one store, as two
repositories of one organisation share one MLflow server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.mlflow import ForeignModelError, MlflowRegistry, RunTags
from bot.core.models import RunRecord
from bot.core.tags import MODEL_REPO_TAG
from tests.support.mlflow_store import sqlite_registry
from tests.support.tiny_model import tiny_model

MODEL = "churn"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("owned-model"))


@pytest.fixture
def store(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> MlflowRegistry:
    return sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())


def scoped(store: MlflowRegistry, repository: str) -> MlflowRegistry:
    return MlflowRegistry(store.tracking_uri, repository=repository)


def log(registry: MlflowRegistry, model_file: Path, repo: str, output_hash: str) -> RunRecord:
    return registry.log_training_run(
        experiment="ownership",
        model=MODEL,
        run_name=output_hash,
        params={},
        metrics={"accuracy": 0.9},
        tags={RunTags.REPO: repo, RunTags.OUTPUT_HASH: output_hash},
        artifacts={},
        model_file=model_file,
    )


def test_the_first_repository_to_register_a_model_owns_it_and_the_other_is_refused_everywhere(
    store: MlflowRegistry, model_file: Path
) -> None:
    ours, theirs = scoped(store, "acme/model"), scoped(store, "acme/other")
    run = log(ours, model_file, "acme/model", "h1")
    version = ours.register(MODEL, run, {})
    ours.set_alias(MODEL, "champion", version.version)
    assert store.owner(MODEL) == "acme/model"

    their_run = log(theirs, model_file, "acme/other", "h2")
    attempts = {
        "champion look-up": lambda: theirs.version_by_alias(MODEL, "champion"),
        "version": lambda: theirs.version(MODEL, version.version),
        "versions": lambda: theirs.versions(MODEL),
        "register": lambda: theirs.register(MODEL, their_run, {}),
        "alias move": lambda: theirs.set_alias(MODEL, "champion", version.version),
        "alias delete": lambda: theirs.delete_alias(MODEL, "champion"),
        "version tag": lambda: theirs.set_version_tag(MODEL, version.version, "k", "v"),
        "owner tag": lambda: theirs.set_model_tag(MODEL, MODEL_REPO_TAG, "acme/other"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(ForeignModelError) as refused:
            attempt()
        message = str(refused.value)
        assert "belongs to acme/model" in message and "acme/other" in message, what
        assert "another name" in message, what  # says what to do
    champion = store.version_by_alias(MODEL, "champion")
    assert champion is not None and champion.version == version.version
    assert [v.version for v in store.versions(MODEL)] == [version.version]  # nothing registered
    assert store.owner(MODEL) == "acme/model"  # never overwritten


def test_candidates_are_found_only_among_this_repositorys_runs(
    store: MlflowRegistry, model_file: Path
) -> None:
    ours, theirs = scoped(store, "acme/model"), scoped(store, "acme/other")
    mine = log(ours, model_file, "acme/model", "same-hash")
    planted = log(theirs, model_file, "acme/other", "same-hash")  # same model name, same output hash
    assert [r.run_id for r in ours.find_runs(MODEL, {RunTags.OUTPUT_HASH: "same-hash"})] == [mine.run_id]
    assert [r.run_id for r in theirs.find_runs(MODEL, {RunTags.OUTPUT_HASH: "same-hash"})] == [planted.run_id]
    # A caller cannot widen the search by asking for another repository's tag.
    assert ours.find_runs(MODEL, {RunTags.REPO: "acme/other"}) == []


def test_a_model_registered_by_hand_is_claimed_by_the_first_repository_that_writes_to_it(
    store: MlflowRegistry, model_file: Path
) -> None:
    store.client.create_registered_model(MODEL)  # by hand: no owner
    ours, theirs = scoped(store, "acme/model"), scoped(store, "acme/other")
    assert theirs.version_by_alias(MODEL, "champion") is None  # reading an unclaimed model is allowed
    version = ours.register(MODEL, log(ours, model_file, "acme/model", "h1"), {})
    assert store.owner(MODEL) == "acme/model"
    with pytest.raises(ForeignModelError):
        theirs.set_alias(MODEL, "champion", version.version)


def test_a_registry_for_no_repository_keeps_todays_behaviour(store: MlflowRegistry, model_file: Path) -> None:
    run = log(store, model_file, "acme/model", "h1")
    version = store.register(MODEL, run, {})
    store.set_alias(MODEL, "champion", version.version)
    assert store.owner(MODEL) is None
    assert [r.run_id for r in store.find_runs(MODEL, {})] == [run.run_id]
