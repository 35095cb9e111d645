"""Issue 18, finding 8: the files the bot creates are its user's alone, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot.adapters.private_files import ensure_private_dir
from bot.adapters.store import Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_sqlite_database_and_its_wal_files_are_0600_under_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0o000)  # the worst case: everything would be world-writable
    try:
        store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
        store.accept("d-1", "issue_comment", "created", b"{}")  # makes SQLite open its -wal and -shm
        files = sorted(p.name for p in tmp_path.iterdir())
        modes = {name: _mode(tmp_path / name) for name in files}
        store.close()
    finally:
        os.umask(previous)
    assert "bot.db-wal" in modes, files
    assert set(modes.values()) == {0o600}, {k: oct(v) for k, v in modes.items()}


def test_the_work_dir_and_its_missing_parents_are_created_0700(tmp_path: Path) -> None:
    previous = os.umask(0o000)
    try:
        work = ensure_private_dir(tmp_path / "state" / "work")
    finally:
        os.umask(previous)
    assert _mode(work) == 0o700 and _mode(work.parent) == 0o700
