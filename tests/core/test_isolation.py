"""Which variables reach a stage and a job step (issue 18, finding 1): table-driven, pure."""

from __future__ import annotations

import pytest

from bot.core.isolation import JOB_PERMISSIONS, job_environment, never_passed, stage_environment

BOT_ENV = {
    "PATH": "/usr/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/root",
    "MLOPS_BOT_WEBHOOK_SECRET": "s3cret",
    "MLOPS_BOT_MLFLOW_WEBHOOK_SECRET": "s3cret2",
    "MLOPS_BOT_DATABASE_URL": "postgresql://bot:pw@db/bot",
    "MLOPS_BOT_PRIVATE_KEY_PATH": "/keys/app.pem",
    "GITHUB_TOKEN": "ghs_abc",
    "GH_TOKEN": "ghs_def",
    "ACTIONS_RUNTIME_TOKEN": "rt",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc",
    "GIT_CONFIG_VALUE_0": "Authorization: basic xyz",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "MLFLOW_TRACKING_TOKEN": "mlflow",
    "SOME_UNRELATED": "x",
}


def test_a_stage_gets_path_locale_and_its_own_home_only() -> None:
    env = stage_environment(BOT_ENV, home="/stage/home", tmp="/stage/tmp")
    assert env["PATH"] == "/usr/bin"
    assert env["HOME"] == "/stage/home" and env["TMPDIR"] == "/stage/tmp"
    assert env["LC_ALL"] == "C.UTF-8"
    for name in ("MLOPS_BOT_WEBHOOK_SECRET", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "SOME_UNRELATED"):
        assert name not in env
    assert "s3cret" not in "".join(env.values())


@pytest.mark.parametrize(
    "name",
    ["MLOPS_BOT_DATABASE_URL", "GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_RUNTIME_TOKEN", "GIT_CONFIG_VALUE_0"],
)
def test_the_config_cannot_ask_for_the_bots_credentials(name: str) -> None:
    env = stage_environment(BOT_ENV, home="h", tmp="t", pass_env=[name], extra={name: "forged"})
    assert name not in env
    assert never_passed(name)


def test_the_config_names_what_the_stage_needs() -> None:
    env = stage_environment(BOT_ENV, home="h", tmp="t", pass_env=["AWS_SECRET_ACCESS_KEY", "MISSING"],
                            extra={"SEED": "7"})  # fmt: skip
    assert env["AWS_SECRET_ACCESS_KEY"] == "aws"
    assert env["SEED"] == "7"
    assert "MISSING" not in env


def test_a_job_step_keeps_its_tools_credentials_but_not_the_bots_settings() -> None:
    env = job_environment(BOT_ENV)
    assert env["AWS_SECRET_ACCESS_KEY"] == "aws" and env["MLFLOW_TRACKING_TOKEN"] == "mlflow"
    assert env["HOME"] == "/root"
    for name in ("MLOPS_BOT_WEBHOOK_SECRET", "MLOPS_BOT_PRIVATE_KEY_PATH", "GITHUB_TOKEN", "GIT_CONFIG_VALUE_0",
                 "SOME_UNRELATED"):  # fmt: skip
        assert name not in env


def test_no_job_token_can_administer_or_touch_workflows() -> None:
    for kind, permissions in JOB_PERMISSIONS.items():
        assert "administration" not in permissions, kind
        assert permissions.get("actions", "read") == "read", kind
        assert "workflows" not in permissions, kind
