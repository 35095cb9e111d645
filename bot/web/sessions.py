"""Who is signed in to the dashboard, kept in the bot's store so every replica and every restart agrees:
a user signed in through one `serve` is signed in on the next, and signing out ends the session everywhere.

The cookie carries a signed random id (see `bot/web/auth.py`); the store keeps only a SHA-256 hash of it,
so a copy of the table (a backup, a read replica) opens no session. The user's GitHub token is needed to
ask GitHub what that user may read, so it is kept, sealed with AES-256-GCM under a key derived from
MLOPS_BOT_SESSION_SECRET, bound to the session's id hash. Without that secret each process draws a
random one: sessions then last as long as the process (documented in docs/security.md).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from bot.adapters.store import Store

SESSION_SECONDS = 8 * 3600
_NONCE = 12


@dataclass
class Session:
    id: str
    login: str
    token: str = field(repr=False)
    csrf: str
    started_at: float


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    """Dashboard sessions in the store; each lasts SESSION_SECONDS from sign-in."""

    def __init__(self, store: Store, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mlops-bot dashboard session token")
        self._aead = AESGCM(kdf.derive(secret))

    def start(self, login: str, token: str) -> Session:
        from bot.adapters.store import SessionRow

        now = self._clock()
        session = Session(secrets.token_urlsafe(32), login, token, secrets.token_urlsafe(24), now)
        id_hash = _id_hash(session.id)
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, token.encode(), id_hash.encode())
        self._store.save_session(
            SessionRow(id_hash, login[:100], sealed, session.csrf, now, now + SESSION_SECONDS)
        )
        return session

    def get(self, session_id: str) -> Session | None:
        """The live session with this id; None when it ended, expired, or was sealed under another secret."""
        id_hash = _id_hash(session_id)
        row = self._store.session_row(id_hash)
        if row is None or self._clock() >= row.expires_at:
            return None
        try:
            token = self._aead.decrypt(row.sealed_token[:_NONCE], row.sealed_token[_NONCE:], id_hash.encode())
        except InvalidTag:
            return None
        return Session(session_id, row.login, token.decode(), row.csrf, row.started_at)

    def end(self, session_id: str) -> None:
        self._store.end_session(_id_hash(session_id))
