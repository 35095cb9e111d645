"""The web process's store: no commit checkpoints SQLite's write-ahead log, a thread of the store does, and
nothing written is lost on the way (bot/adapters/store/checkpoints.py)."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

from bot.adapters.store import Store
from bot.adapters.store.checkpoints import WalCheckpointer

PAYLOAD = b'{"pad": "' + b"x" * 7000 + b'"}'  # a typical delivery's size: two pages of the log each


def _log_frames(database: Path) -> int:
    """How many pages the write-ahead log file holds (its size; SQLite reuses it from the start once a
    checkpoint has copied everything)."""
    wal = database.with_name(database.name + "-wal")
    return (wal.stat().st_size - 32) // (4096 + 24) if wal.exists() else 0


def _log_restarts(database: Path) -> int:
    """The log header's checkpoint sequence number: SQLite bumps it each time it restarts the log after a
    complete checkpoint."""
    return int.from_bytes(database.with_name(database.name + "-wal").read_bytes()[12:16], "big")


def _write(store: Store, deliveries: int) -> None:
    for _ in range(deliveries // 16):
        store.accept_many([(str(uuid.uuid4()), "push", None, PAYLOAD) for _ in range(16)])


def test_commits_leave_the_checkpoint_to_the_stores_thread(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    store = Store(f"sqlite:///{database}", background_checkpoints=True)
    store._checkpoints = WalCheckpointer(store._engine, every=0.3)  # a test need not wait a second
    try:
        _write(store, 800)  # ~1,600 pages: past the 1,000 at which a commit would have checkpointed
        assert _log_frames(database) > 1200, "a commit checkpointed the log"
        restarts = _log_restarts(database)
        deadline = time.monotonic() + 10
        while _log_restarts(database) == restarts and time.monotonic() < deadline:
            time.sleep(0.1)
            _write(store, 16)  # the first write after a complete checkpoint restarts the log
        assert _log_restarts(database) > restarts, "the store's thread never checkpointed the log"
        written = store.queue_depth()
    finally:
        store.close()
    with sqlite3.connect(database) as conn:  # everything committed is there for a new connection
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == written >= 800


def test_a_store_by_default_checkpoints_as_sqlite_does(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    store = Store(f"sqlite:///{database}")
    try:
        _write(store, 800)
        assert _log_frames(database) < 1100  # SQLite's own checkpoint at 1,000 pages, in a commit
    finally:
        store.close()
