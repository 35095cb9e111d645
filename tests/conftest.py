"""Suite-wide settings: a git identity for the commits tests make, and no telemetry from DVC/BentoML/MLflow."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

# One real `mlflow server` and one trained sample repository per session, for the suites that ask for them.
pytest_plugins = ("tests.support.mlflow_server", "tests.support.fixtures")

_QUIET_ENV = {
    "GIT_AUTHOR_NAME": "mlops-bot tests",
    "GIT_AUTHOR_EMAIL": "tests@mlops-bot.invalid",
    "GIT_COMMITTER_NAME": "mlops-bot tests",
    "GIT_COMMITTER_EMAIL": "tests@mlops-bot.invalid",
    "DVC_NO_ANALYTICS": "1",
    "BENTOML_DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # A bot a test built and never shut down keeps its warm job runner (~0.6 GB) this long, not 10 minutes.
    "MLOPS_BOT_WARM_IDLE_SECONDS": "90",
}


@pytest.fixture(autouse=True, scope="session")
def _quiet_environment() -> None:
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    # As in an activated virtual environment: `python` in a sample stage is the one running the tests (the
    # bot no longer puts its interpreter first on the stages' PATH; the local executor does, by design).
    bin_dir = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", os.defpath)])


# MLflow exports its global URIs to os.environ "so that subprocesses inherit them": one left behind by a test
# (or by the code it runs) sends every later job of the session to that store. Each test must leave them as it
# found them (monkeypatch's own changes are undone before this check).
_MLFLOW_URIS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True)
def _mlflow_uris_left_as_found() -> Iterator[None]:
    before = {name: os.environ.get(name) for name in _MLFLOW_URIS}
    yield
    after = {name: os.environ.get(name) for name in _MLFLOW_URIS}
    assert after == before, f"the test left MLflow's URIs changed in os.environ: {before} -> {after}"


_ISOLATED = (
    "MLFLOW_TRACKING_URI",
    "MLOPS_BOT_MLFLOW_TRACKING_URI",
    "GITHUB_TOKEN",
    "MLOPS_BOT_GITHUB_TOKEN",
    "MLOPS_BOT_WEBHOOK_SECRET",
)


@pytest.fixture(autouse=True)
def _no_leaked_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's tracking server or token never reaches a test, and no test's reaches the next one:
    `mlflow.set_tracking_uri` also writes MLFLOW_TRACKING_URI into the process environment."""
    for key in _ISOLATED:
        monkeypatch.delenv(key, raising=False)
