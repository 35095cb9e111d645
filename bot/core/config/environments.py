"""`promotion.environments`: the GitHub environments a model moves through, each served by one alias.

A merge promotes to the first environment; `/promote MODEL --to <next>` (or the soak, `promotion.soak`)
moves the version on. The last environment is where the champion serves (alias `aliases.champion`); the one
before it, when there is one, is `staging` (alias `aliases.staging`). The names are GitHub's environment
names: each Deployment is made to one, and its protection rules (required reviewers, wait timer) apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")  # the pattern `/promote --to` accepts
STAGING = "staging"


@dataclass(frozen=True)
class Stage:
    """One environment of the path: its GitHub name, the MLflow alias that serves it, and its place."""

    name: str
    alias: str
    index: int
    last: bool  # the champion's environment

    @property
    def first(self) -> bool:
        return self.index == 0


def check_environments(names: list[str]) -> list[str]:
    """The list as given, or ValueError naming what is wrong and how to write it."""
    if not names:
        raise ValueError("is empty; list the environments a model moves through, e.g. [staging, production]")
    # One environment is today's `promotion.environment`, whatever GitHub name it has; a path through two is
    # named in commands (`/promote --to production`), so its names are plain words.
    bad = [n for n in names if not NAME.match(n)] if len(names) > 1 else []
    if bad:
        raise ValueError(
            f"not an environment name: {', '.join(repr(b) for b in bad)} (letters, digits, `.`, `_`, `-`)"
        )
    lowered = [n.lower() for n in names]  # GitHub's environment names are not case sensitive
    dupes = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if dupes:
        raise ValueError(f"each environment once; repeated: {', '.join(dupes)}")
    if len(names) > 2:
        raise ValueError(
            f"at most two environments (staging, then production); got {len(names)}: {', '.join(names)}"
        )
    if names[-1].lower() == STAGING:
        raise ValueError(
            "the last environment is where the champion serves; put production last: [staging, production]"
        )
    unknown = [n for n in names[:-1] if n.lower() != STAGING]
    if unknown:
        raise ValueError(
            f"unknown environment {unknown[0]!r} before {names[-1]!r}: the one before production is `staging` "
            "(served by `aliases.staging`)"
        )
    return names


def one_production(data: Any) -> Any:
    """`promotion`'s raw mapping with `environment` (a one-environment config's spelling) and the last of
    `environments` naming the same environment: either alone sets both; both must agree."""
    if not isinstance(data, dict):
        return data
    if "environments" not in data:
        return {**data, "environments": [data["environment"]]} if "environment" in data else data
    names = data["environments"]
    if not isinstance(names, list) or not names:
        return data  # the field's own check says what is wrong
    if "environment" in data and data["environment"] != names[-1]:
        raise ValueError(
            f"`environment: {data['environment']}` and `environments: {names}` disagree: `environment` is "
            "the old spelling of a one-environment list; keep `environments` only"
        )
    return {**data, "environment": names[-1]}


def stages(names: list[str], *, staging_alias: str, champion_alias: str) -> list[Stage]:
    last = len(names) - 1
    return [
        Stage(name, champion_alias if i == last else staging_alias, i, i == last)
        for i, name in enumerate(names)
    ]
