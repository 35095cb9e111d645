"""Issue 18 finding 3 through the real bot: an admin of acme/other, whose config names the same model as
acme/model's, types `/rollback` and cannot move acme/model's champion.

The world is the stand-in, the real bot (app, queue, worker, handlers) in this process with the local
executor, and one sqlite MLflow store shared by both repositories, as one organisation's server would be.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry, RunTags
from bot.core.config import CONFIG_PATH
from tests.support.mlflow_store import sqlite_registry
from tests.support.tiny_model import tiny_model

from .harness import CONFIG, MODEL, REPO, bot_in_process, make_world, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.integration]

OTHER = "acme/other"
EVE = "eve"  # admin of acme/other, nobody on acme/model


def owned_champion(store: MlflowRegistry, model_file: Path) -> MlflowRegistry:
    """acme/model's registry view with v1 (previous) and v2 (champion) of the model."""
    ours = MlflowRegistry(store.tracking_uri, repository=REPO)
    versions = []
    for output_hash in ("v1", "v2"):
        run = ours.log_training_run(
            experiment="owned",
            model=MODEL,
            run_name=output_hash,
            params={},
            metrics={"f1": 0.9},
            tags={RunTags.OUTPUT_HASH: output_hash, RunTags.REPO: REPO},
            artifacts={},
            model_file=model_file,
        )
        versions.append(ours.register(MODEL, run, {}).version)
    ours.set_alias(MODEL, "previous", versions[0])
    ours.set_alias(MODEL, "champion", versions[1])
    return ours


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return tiny_model(tmp_path)


def test_an_admin_of_another_repository_cannot_roll_back_a_models_champion(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    keys: tuple[str, str],
    model_file: Path,
    fast_github_retries: None,
) -> None:
    private, public = keys
    store = sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())
    world = make_world(
        tmp_path, database_url=f"sqlite:///{tmp_path / 'bot.db'}", private_key=private, public_key=public,
        executor="local",
    )  # fmt: skip
    # The stage sandbox needs root and is beside the point: the refusal comes from the bot's own step.
    overrides = {"mlflow_tracking_uri": store.tracking_uri, "stage_isolation": "none"}
    fields = type(world.settings).model_fields
    world.settings = world.settings.model_copy(update={k: v for k, v in overrides.items() if k in fields})
    owned_champion(store, model_file)

    seed = tmp_path / "other-seed"
    (seed / ".github").mkdir(parents=True)
    (seed / CONFIG_PATH).write_text(CONFIG)  # the very same model name
    world.standin.create_user(EVE)
    world.standin.create_repo(OTHER, source=seed)
    world.standin.set_permission(OTHER, EVE, "admin")
    world.standin.install_app(OTHER)  # same organisation: the same installation

    with bot_in_process(world):
        number = world.standin.create_issue(OTHER, title="roll back", body="", author=EVE).number
        world.standin.comment(OTHER, number, f"/rollback {MODEL}", author=EVE)
        reply = wait_for(
            lambda: [c for c in world.standin.comments(OTHER, number) if "belongs to" in c.body],
            "the bot's refusal on acme/other",
            timeout=90,
        )
    assert f"belongs to {REPO}" in reply[0].body
    champion = store.version_by_alias(MODEL, "champion")
    assert champion is not None and champion.version == "2"
    assert store.owner(MODEL) == REPO
    assert world.standin.deployments(OTHER) == []
