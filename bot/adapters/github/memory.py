"""What the adapter remembers between calls: ids it made or found, and ETags of what it re-reads.

Ids the bot made or found on GitHub are remembered so the next write goes straight to them.

A card edit knows its comment id, a check write its check run id: without this each would first list the
comments of the pull request (one page per 100 comments) or the check runs of the commit. A remembered id
is only a hint, verified on use: a 404, or a comment whose body lost its marker, falls back to the look-up.
One memory per factory, kept in the bot's work dir too so that the next job finds it; bounded: the least
recently used go first.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

log = logging.getLogger("bot.adapters.github")

MAX_KNOWN_IDS = 4096
MAX_CONDITIONAL_ENTRIES = 256  # config files and comment pages
MAX_CONDITIONAL_ON_DISK = 64  # a page of 100 comments can weigh a few hundred KB


class KnownIds:
    """(repository, kind, key) -> id, least recently used out first. Thread-safe.

    With `path` (a SQLite file in the bot's work dir), what one process learns the next one finds: a card job
    is a process of its own, and the previous job posted the card. The file is the bot's (mode 0600) and
    only a hint: an unreadable or unwritable file is ignored, and every id read from it is verified on use.
    """

    def __init__(
        self, limit: int = MAX_KNOWN_IDS, *, path: Path | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.limit = limit
        self.path = path
        self._clock = clock
        self._ids: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, repo: str, kind: str, key: str) -> int | None:
        with self._lock:
            found = self._ids.get((repo, kind, key))
            if found is not None:
                self._ids.move_to_end((repo, kind, key))
                return found
        stored = self._disk("SELECT id FROM ids WHERE repo = ? AND kind = ? AND key = ?", (repo, kind, key))
        return int(stored[0][0]) if stored else None

    def put(self, repo: str, kind: str, key: str, value: int) -> None:
        with self._lock:
            self._ids[(repo, kind, key)] = value
            self._ids.move_to_end((repo, kind, key))
            while len(self._ids) > self.limit:
                self._ids.popitem(last=False)
        self._disk(
            "INSERT INTO ids (repo, kind, key, id, used) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (repo, kind, key) DO UPDATE SET id = excluded.id, used = excluded.used",
            (repo, kind, key, value, self._clock()),
            prune=True,
        )

    def drop(self, repo: str, kind: str, key: str) -> None:
        with self._lock:
            self._ids.pop((repo, kind, key), None)
        self._disk("DELETE FROM ids WHERE repo = ? AND kind = ? AND key = ?", (repo, kind, key))

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def _disk(self, sql: str, args: tuple[Any, ...], *, prune: bool = False) -> list[Any]:
        return _on_disk(self.path, IDS_TABLE, sql, args, self.limit if prune else None)


class ConditionalCache:
    """(repository, URL with its query) -> (ETag, JSON answer) of what the bot re-reads, least recently used
    out first: the next read sends If-None-Match, and a 304 (which GitHub does not count against the rate
    limit) means the copy here is current. Thread-safe; one per factory; with `path`, kept in the bot's work
    dir as the ids are, so the next job's re-read of the same page is a 304 too."""

    def __init__(
        self,
        limit: int = MAX_CONDITIONAL_ENTRIES,
        *,
        path: Path | None = None,
        disk_limit: int = MAX_CONDITIONAL_ON_DISK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.path = path
        self.disk_limit = disk_limit
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, repo: str, url: str) -> tuple[str, Any] | None:
        with self._lock:
            found = self._entries.get((repo, url))
            if found is not None:
                self._entries.move_to_end((repo, url))
                return found
        rows = _on_disk(
            self.path, ETAGS_TABLE, "SELECT etag, data FROM etags WHERE repo = ? AND url = ?", (repo, url)
        )
        if not rows:
            return None
        try:
            return str(rows[0][0]), json.loads(rows[0][1])
        except ValueError:
            return None

    def put(self, repo: str, url: str, etag: str, data: Any) -> None:
        with self._lock:
            self._entries[(repo, url)] = (etag, data)
            self._entries.move_to_end((repo, url))
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)
        _on_disk(
            self.path,
            ETAGS_TABLE,
            "INSERT INTO etags (repo, url, etag, data, used) VALUES (?, ?, ?, ?, ?) ON CONFLICT (repo, url) "
            "DO UPDATE SET etag = excluded.etag, data = excluded.data, used = excluded.used",
            (repo, url, etag, json.dumps(data), self._clock()),
            self.disk_limit,
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


IDS_TABLE = (
    "ids",
    "CREATE TABLE IF NOT EXISTS ids (repo TEXT, kind TEXT, key TEXT, id INTEGER, used REAL, "
    "PRIMARY KEY (repo, kind, key))",
)
ETAGS_TABLE = (
    "etags",
    "CREATE TABLE IF NOT EXISTS etags (repo TEXT, url TEXT, etag TEXT, data TEXT, used REAL, "
    "PRIMARY KEY (repo, url))",
)


def _on_disk(
    path: Path | None, table: tuple[str, str], sql: str, args: tuple[Any, ...], keep: int | None = None
) -> list[Any]:
    """Run `sql` on the work dir's file (made 0600 on first use); with `keep`, only the `keep` most recently
    used rows of the table stay. A file that cannot be used is a warning: the caller looks things up."""
    if path is None:
        return []
    name, create = table
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        with closing(sqlite3.connect(path, timeout=5)) as db, db:
            db.execute(create)
            rows = db.execute(sql, args).fetchall()
            if keep is not None:
                db.execute(
                    f"DELETE FROM {name} WHERE rowid NOT IN "  # noqa: S608 - a table name of this module
                    f"(SELECT rowid FROM {name} ORDER BY used DESC LIMIT ?)",
                    (keep,),
                )
            return rows
    except (OSError, sqlite3.Error) as exc:
        log.warning("the GitHub memory in %s is not usable (%s); looking things up instead", path, exc)
        return []
