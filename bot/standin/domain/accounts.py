"""Users, apps, installations and tokens."""

from __future__ import annotations

import secrets
import time

from bot.standin.domain.state import State
from bot.standin.model import Installation, Token


class Accounts(State):
    """Users, the hosted GitHub App, its installations and their tokens."""

    def create_user(self, login: str, *, type: str = "User") -> str:
        """Create a user (or bot) and return a personal token acting as it."""
        with self.lock:
            self.ensure_user(login, type)
            return self._mint(login)

    def _mint(
        self,
        login: str,
        *,
        installation_id: int | None = None,
        lifetime: float | None = None,
        repositories: frozenset[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> str:
        prefix = "ghs_" if installation_id is not None else "ghp_"
        value = prefix + secrets.token_hex(18)
        expires = time.time() + lifetime if lifetime is not None else None
        self.tokens[value] = Token(value, login, installation_id, expires, repositories, permissions)
        return value

    def register_app(self, app_id: int, public_key_pem: str) -> None:
        """Give the hosted app the id and RSA public key that its JWTs are verified with."""
        with self.lock:
            app = self.default_app
            self.apps.pop(app.id, None)
            app.id = app_id
            app.public_key_pem = public_key_pem
            self.apps[app_id] = app
            for inst in self.installations.values():
                inst.app_id = app_id

    def install_app(self, full_name: str) -> int:
        """Install the app on a repository (one installation per account); returns the installation id."""
        with self.lock:
            repo = self._repo(full_name)
            for inst in self.installations.values():
                if inst.account == repo.owner:
                    inst.repos.add(full_name)
                    return inst.id
            inst = Installation(self.ids(), self.default_app.id, repo.owner, {full_name})
            self.installations[inst.id] = inst
            return inst.id

    def installation_token(
        self,
        installation_id: int,
        *,
        repositories: frozenset[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> str:
        """A token acting as `<slug>[bot]` for that installation (what the access_tokens endpoint mints),
        optionally narrowed to some of its repositories (full names) and permissions."""
        with self.lock:
            if installation_id not in self.installations:
                raise KeyError(f"no installation {installation_id}")
            return self._mint(
                self.default_app.bot_login,
                installation_id=installation_id,
                lifetime=self.token_lifetime_s,
                repositories=repositories,
                permissions=permissions,
            )
