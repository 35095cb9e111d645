"""The Dockerfile and compose.yaml, checked without a Docker daemon: the Dockerfile through BuildKit's own
parser (PyPI `dockerfile`), compose.yaml against the Compose Specification's JSON schema, and both against
what the bot's CLI and settings actually accept."""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from bot.cli import COMMAND_MODULES
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _cli() -> argparse.ArgumentParser:
    """The `mlops-bot` parser, `db` included (the command that migrates)."""
    parser = argparse.ArgumentParser(prog="mlops-bot")
    commands = parser.add_subparsers(dest="command")
    for module in dict.fromkeys([*COMMAND_MODULES, "bot.cli.db"]):
        importlib.import_module(module).register(commands)
    return parser


# ---- Dockerfile -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stages() -> list[list[Any]]:
    """The Dockerfile's instructions, one list per build stage."""
    dockerfile = pytest.importorskip(
        "dockerfile", reason="PyPI `dockerfile` (BuildKit's parser) is a dev dependency"
    )
    found: list[list[Any]] = []
    for command in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if command.cmd.upper() == "FROM":
            found.append([])
        if found:
            found[-1].append(command)
    return found


def _instructions(stage: list[Any], name: str) -> list[Any]:
    return [command for command in stage if command.cmd.upper() == name]


def test_the_image_is_built_in_two_stages_and_ships_only_the_slim_one(stages: list[list[Any]]) -> None:
    assert len(stages) == 2
    builder, final = stages
    assert builder[0].value[-2:] == ("AS", "builder")
    assert final[0].value[0].endswith("-slim-bookworm")
    build = " ".join(" ".join(c.value) for c in _instructions(builder, "RUN"))
    assert "pip wheel" in build and "-c constraints.txt" in build


def test_the_final_stage_installs_pinned_wheels_offline_without_a_compiler(stages: list[list[Any]]) -> None:
    final = stages[-1]
    runs = " ".join(" ".join(c.value) for c in _instructions(final, "RUN"))
    assert "--no-index --find-links /wheels" in runs  # nothing fetched, nothing compiled
    assert "-c /tmp/constraints.txt" in runs
    assert "from=builder" in " ".join(" ".join(c.flags) for c in _instructions(final, "RUN"))
    for tool in ("apt-get", "gcc", "build-essential", "make "):
        assert tool not in runs


def test_the_bot_runs_as_a_numeric_non_root_user_with_a_health_check(stages: list[list[Any]]) -> None:
    final = stages[-1]
    (user,) = _instructions(final, "USER")
    uid = user.value[0].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    (health,) = _instructions(final, "HEALTHCHECK")
    assert "http://127.0.0.1:8080/healthz" in " ".join(health.value)
    assert _instructions(final, "ENTRYPOINT")[0].value == ("mlops-bot",)
    cmd = list(_instructions(final, "CMD")[0].value)
    _cli().parse_args(cmd)  # a command the CLI accepts
    assert cmd[cmd.index("--port") + 1] == "8080"


def test_everything_the_build_copies_is_in_the_build_context(stages: list[list[Any]]) -> None:
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in ignore if line and not line.startswith("#")]
    for command in _instructions(stages[0], "COPY"):
        for source in command.value[:-1]:
            assert (ROOT / source).exists(), source
            assert _sent_to_builder(source, patterns), f"{source} is excluded by .dockerignore"
    assert not _sent_to_builder(".venv", patterns) and not _sent_to_builder(".git", patterns)


def _sent_to_builder(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics for the patterns used here: the last matching pattern wins."""
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, glob) or path.startswith(glob + "/"):
            included = negated
    return included


# ---- compose.yaml ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    jsonschema.validate(compose, json.loads(schema_file.read_text()))


def test_compose_runs_web_replicas_and_workers_after_the_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "bot", "worker", "mlflow"}
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["bot"]["command"][:2] == ["serve", "--no-worker"]
    assert services["worker"]["command"][0] == "worker"
    assert services["worker"]["deploy"]["replicas"] >= 2
    for name in ("bot", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["build"]["context"] == "."
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["bot"]["ports"] == ["${MLOPS_BOT_PORT:-8080}:8080"]  # where the image's check looks


def test_compose_commands_are_ones_the_cli_accepts(compose: dict[str, Any]) -> None:
    for name in ("migrate", "bot", "worker"):
        assert isinstance(_cli().parse_args(compose["services"][name]["command"]), argparse.Namespace)


def test_the_bots_settings_point_at_the_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    environment = services["bot"]["environment"]
    # The workers run the jobs: the same settings, and they insist on a uid of its own for each job's stages.
    assert services["worker"]["environment"] == {**environment, "MLOPS_BOT_STAGE_ISOLATION": "user"}
    assert services["worker"]["user"] == "0:0"
    known = {f"MLOPS_BOT_{name.upper()}" for name in Settings.model_fields}
    assert set(services["worker"]["environment"]) <= known
    assert environment["MLOPS_BOT_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in environment["MLOPS_BOT_DATABASE_URL"]
    assert environment["MLOPS_BOT_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    mlflow = services["mlflow"]["command"]
    assert mlflow[mlflow.index("--port") + 1] == "5000"
    assert "mlflow:5000" in mlflow[mlflow.index("--allowed-hosts") + 1].split(",")
    secret = environment["MLOPS_BOT_PRIVATE_KEY_PATH"]
    assert secret == f"/run/secrets/{services['bot']['secrets'][0]}"
