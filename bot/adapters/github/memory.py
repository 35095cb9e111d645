"""What the adapter remembers between calls: ids it made or found, and ETags of what it re-reads.

Ids the bot made or found on GitHub are remembered so the next write goes straight to them.

A card edit knows its comment id, a check write its check run id: without this each would first list the
comments of the pull request (one page per 100 comments) or the check runs of the commit. A remembered id
is only a hint, verified on use: a 404, or a comment whose body lost its marker, falls back to the look-up.
One memory per factory (so per process: the bot's, or one job's), bounded: the least recently used go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

MAX_KNOWN_IDS = 4096
MAX_CONDITIONAL_ENTRIES = 256  # config files and comment pages: small answers


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


class ConditionalCache:
    """(repository, URL with its query) -> (ETag, JSON answer) of what the bot re-reads, least recently used
    out first: the next read sends If-None-Match, and a 304 (which GitHub does not count against the rate
    limit) means the copy here is current. Thread-safe; one per factory."""

    def __init__(self, limit: int = MAX_CONDITIONAL_ENTRIES) -> None:
        self.limit = limit
        self._entries: OrderedDict[tuple[str, str], tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, repo: str, url: str) -> tuple[str, Any] | None:
        with self._lock:
            found = self._entries.get((repo, url))
            if found is not None:
                self._entries.move_to_end((repo, url))
            return found

    def put(self, repo: str, url: str, etag: str, data: Any) -> None:
        with self._lock:
            self._entries[(repo, url)] = (etag, data)
            self._entries.move_to_end((repo, url))
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
