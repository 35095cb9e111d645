"""Which model of a canary service answers a request: the candidate for `share` of the requests, the champion
for the rest.

This file is copied verbatim into a canary bento (as `canary_routing.py` beside `service.py`), so it imports
only the standard library. A request that carries a key (the `X-Canary-Key` header or the `canary_key` field)
is routed by a hash of the key, so the same key always reaches the same model while the canary lasts (a user
sees one model, not a coin flip per request); without a key, each request draws at random.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

KEY_HEADER = "x-canary-key"
KEY_FIELD = "canary_key"
_SCALE = float(1 << 64)


def key_point(key: str, salt: str) -> float:
    """Where `key` falls in [0, 1): the first 8 bytes of SHA-256(salt, key). The salt (the canary's own id)
    reshuffles keys between canaries, so one user is not the first to meet every candidate."""
    digest = hashlib.sha256(f"{salt}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def to_canary(share: float, key: str | None, *, salt: str, draw: Callable[[], float] = random.random) -> bool:
    """True when the candidate answers this request: a keyed request by its key's point, else a random draw."""
    if share <= 0:
        return False
    point = key_point(key, salt) if key else draw()
    return point < share
