"""A config file that cannot be used."""

from __future__ import annotations


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file, line and key."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))
