"""GitHub repository permission levels, ordered.

GitHub's collaborator-permission API answers `admin`, `maintain`, `write`, `triage`, `read` or `none`
in `role_name` (and the legacy `permission` field folds maintain into write and triage into read):
https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
"""

from __future__ import annotations

import enum


class Permission(enum.IntEnum):
    NONE = 0
    READ = 1
    TRIAGE = 2
    WRITE = 3
    MAINTAIN = 4
    ADMIN = 5

    @classmethod
    def parse(cls, value: str | None) -> Permission:
        """The level for a GitHub role name (`role_name` or legacy `permission`); unknown means none."""
        if not value:
            return cls.NONE
        key = value.strip().upper()
        if key == "PULL":
            return cls.READ
        if key == "PUSH":
            return cls.WRITE
        return cls.__members__.get(key, cls.NONE)

    def __str__(self) -> str:
        return self.name.lower()
