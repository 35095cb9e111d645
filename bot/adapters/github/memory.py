"""Ids the bot made or found on GitHub, remembered so the next write goes straight to them.

A card edit knows its comment id, a check write its check run id: without this each would first list the
comments of the pull request (one page per 100 comments) or the check runs of the commit. A remembered id
is only a hint, verified on use: a 404, or a comment whose body lost its marker, falls back to the look-up.
One memory per factory (so per process: the bot's, or one job's), bounded: the least recently used go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

MAX_KNOWN_IDS = 4096


class KnownIds:
    """(repository, kind, key) -> id, least recently used out first. Thread-safe."""

    def __init__(self, limit: int = MAX_KNOWN_IDS) -> None:
        self.limit = limit
        self._ids: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, repo: str, kind: str, key: str) -> int | None:
        with self._lock:
            found = self._ids.get((repo, kind, key))
            if found is not None:
                self._ids.move_to_end((repo, kind, key))
            return found

    def put(self, repo: str, kind: str, key: str, value: int) -> None:
        with self._lock:
            self._ids[(repo, kind, key)] = value
            self._ids.move_to_end((repo, kind, key))
            while len(self._ids) > self.limit:
                self._ids.popitem(last=False)

    def drop(self, repo: str, kind: str, key: str) -> None:
        with self._lock:
            self._ids.pop((repo, kind, key), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)
