"""One validated REST request (`Call`), its answer (`Reply`), and the registry of handlers by `operationId`."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bot.standin.domain.state import StandInError
from bot.standin.model import ROLES, Repo, Token

if TYPE_CHECKING:
    from bot.standin.server import StandIn


DOCS = "https://docs.github.com/rest"
# Minimum collaborator role per write operation; writes not listed need "write".
ROLE_NEEDED = {
    "issues/create": "read",
    "issues/create-comment": "read",
    "reactions/create-for-issue-comment": "read",
    "pulls/create": "read",
    "pulls/create-review": "read",
    "issues/add-labels": "triage",
}
AUTHOR_OR_ROLE = {  # the author may always change their own object; others need the role
    "issues/update": "triage",
    "pulls/update": "triage",
    "issues/update-comment": "maintain",
    "issues/delete-comment": "maintain",
}


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # When the answered object last changed (ISO 8601), for `Last-Modified`: set only where that timestamp
    # moves with every field of the body (see bot/standin/conditional.py).
    last_modified: str | None = None
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def payload(self) -> bytes:
        """The body as sent (encoded once: the ETag and the answer use the same bytes)."""
        if self._encoded is None:
            self._encoded = b"" if self.body is None else json.dumps(self.body).encode()
        return self._encoded


@dataclass
class Call:
    """One validated REST request."""

    standin: StandIn
    method: str
    path: str
    operation: str
    params: dict[str, Any]
    query: dict[str, Any]
    body: Any
    token: Token | None
    jwt_app_id: int | None
    url: str  # the full request URL without query, for Link headers

    @property
    def login(self) -> str:
        if self.token is None:
            raise StandInError(401, "Requires authentication")
        return self.token.login

    def repo(self) -> Repo:
        repo = self.standin.repo(f"{self.params['owner']}/{self.params['repo']}")
        if repo.private and (self.token is None or not self._may_see(repo)):
            raise StandInError(404, "Not Found")
        return repo

    def _may_see(self, repo: Repo) -> bool:
        assert self.token is not None
        if self.token.installation_id is not None:  # an installation sees its own repositories, no others
            inst = self.standin.installations.get(self.token.installation_id)
            return inst is not None and repo.full_name in inst.repos
        return self.standin.role(repo, self.token.login) != "none"

    def require(self, repo: Repo, role: str, *, author: str | None = None) -> None:
        """Refuse unless the caller may do this on `repo` (GitHub: 403 for known callers, 401 for none)."""
        if self.token is None:
            raise StandInError(401, "Requires authentication")
        if self.token.installation_id is not None:
            inst = self.standin.installations.get(self.token.installation_id)
            if inst is None or repo.full_name not in inst.repos:
                raise StandInError(403, "Resource not accessible by integration")
            return
        if author is not None and author == self.token.login:
            return
        have = self.standin.role(repo, self.token.login)
        if ROLES.index(have) < ROLES.index(role):
            raise StandInError(403, f"Must have {role} access to repository")

    def page(self, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """One page of `items` and the Link header GitHub sends (per_page default 30, max 100)."""
        per_page = max(1, min(int(self.query.get("per_page", 30)), 100))
        page = max(1, int(self.query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        others = {k: v for k, v in self.query.items() if k not in ("page", "per_page")}

        def link(number: int, rel: str) -> str:
            query = urlencode({**others, "per_page": per_page, "page": number}, doseq=True)
            return f'<{self.url}?{query}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        return chunk, ({"Link": ", ".join(links)} if links else {})


Handler = Callable[[Call], Reply]
HANDLERS: dict[str, Handler] = {}


def op(operation_id: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[operation_id] = fn
        return fn

    return register


def error(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> Reply:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return Reply(status, body)


def b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=False)
    except binascii.Error as exc:
        raise StandInError(422, "content is not valid Base64") from exc


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sort_items(
    items: list[Any], call: Call, created: Callable[[Any], str], updated: Callable[[Any], str]
) -> list[Any]:
    key = updated if call.query.get("sort") == "updated" else created
    return sorted(items, key=key, reverse=call.query.get("direction", "desc") == "desc")
