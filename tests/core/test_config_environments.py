"""`promotion.environments` and `promotion.soak` as a maintainer writes them, and what a mistake is told."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.config import ConfigError, RepoConfig, load_config


def config(promotion: str, aliases: str = "") -> RepoConfig:
    return load_config(f"version: 1\n{aliases}promotion:\n{promotion}", ".github/mlops-bot.yml")


def test_without_environments_a_merge_promotes_to_production_as_before() -> None:
    cfg = load_config("version: 1\n", ".github/mlops-bot.yml")
    [only] = cfg.stages()
    assert (only.name, only.alias, only.last) == ("production", "champion", True)
    assert cfg.promotion.environment == "production"
    assert cfg.promotion.soak_time is None


def test_the_old_single_environment_keeps_working() -> None:
    cfg = config("  environment: prod\n")
    assert [(s.name, s.alias) for s in cfg.stages()] == [("prod", "champion")]
    # Whatever GitHub name it has: a one-environment path is never named in a command.
    assert config("  environment: ML Production\n").stages()[0].name == "ML Production"


def test_staging_then_production_each_with_its_alias_and_a_soak() -> None:
    cfg = config("  environments: [staging, production]\n  soak: 24h\n", "aliases:\n  staging: canary-free\n")
    stages = cfg.stages()
    assert [(s.name, s.alias, s.first, s.last) for s in stages] == [
        ("staging", "canary-free", True, False),
        ("production", "champion", False, True),
    ]
    assert cfg.promotion.environment == "production"
    assert cfg.promotion.soak_time == dt.timedelta(hours=24)
    assert cfg.stage("Production") == stages[1]  # GitHub's environment names are not case sensitive


@pytest.mark.parametrize(
    ("promotion", "fragment"),
    [
        ("  environments: []\n", "is empty; list the environments"),
        (
            "  environments: [staging, Staging, production]\n",
            "each environment once; repeated: Staging, staging",
        ),
        ("  environments: [qa, production]\n", "unknown environment 'qa' before 'production'"),
        ("  environments: [production, staging]\n", "put production last"),
        ("  environments: [staging]\n", "put production last"),
        ("  environments: [staging, 'prod env']\n", "not an environment name: 'prod env'"),
        ("  soak: 24h\n", "`soak` moves a version on from staging, but `environments` lists one"),
        ("  environments: [staging, production]\n  soak: 24 hours\n", "is not a duration"),
        (
            "  environment: prod\n  environments: [staging, production]\n",
            "`environment` is the old spelling of a one-environment list; keep `environments` only",
        ),
    ],
)
def test_a_mistake_is_named_with_its_fix(promotion: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        config(promotion)
    assert fragment in str(err.value)
    assert "promotion" in str(err.value)


def test_the_staging_alias_may_not_be_another_alias() -> None:
    with pytest.raises(ConfigError, match="three different aliases"):
        config("  environments: [staging, production]\n", "aliases:\n  staging: champion\n")
