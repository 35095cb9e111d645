"""Issue 18, finding 8: finished deliveries' payloads and old job directories are deleted after the
retention period; the clock is injected, so nothing sleeps."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from sqlalchemy import select

from bot.adapters.store import Store, deliveries
from bot.retention import DAY_SECONDS, RetentionSweeper


def _payloads(store: Store) -> dict[str, bytes]:
    with store._engine.connect() as conn:
        return {k: bytes(v) for k, v in conn.execute(select(deliveries.c.id, deliveries.c.payload)).tuples()}


def _job_dir(work: Path, name: str, age_days: float) -> Path:
    job = work / "jobs" / name
    (job / "repo").mkdir(parents=True)
    (job / "step0-train.log").write_text("training...\n")
    stamp = time.time() - age_days * DAY_SECONDS
    for path in (job / "repo", job / "step0-train.log", job):
        os.utime(path, (stamp, stamp))
    return job


def test_the_sweep_deletes_what_is_older_than_the_retention_and_keeps_the_rest(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        store.accept("done", "issue_comment", "created", b'{"comment": "secret plans"}')
        store.accept("waiting", "issue_comment", "created", b'{"comment": "queued"}')
        claimed = store.claim("w")
        assert claimed is not None and store.complete(claimed.id, "w")
        work = tmp_path / "work"
        old, recent = _job_dir(work, "old", age_days=31), _job_dir(work, "recent", age_days=2)

        now = [time.time()]
        sweeper = RetentionSweeper(store, work, retention_days=30, clock=lambda: now[0])
        assert sweeper.sweep().payloads_cleared == 0  # finished a moment ago
        assert not old.exists() and recent.exists()

        now[0] += 31 * DAY_SECONDS  # a month later
        result = sweeper.sweep()
        assert result.payloads_cleared == 1
        assert _payloads(store) == {"done": b"", "waiting": b'{"comment": "queued"}'}
        assert not recent.exists()
        assert store.get("done") is not None  # the row stays: a redelivery is still a duplicate
        assert store.accept("done", "issue_comment", "created", b"{}") is False
    finally:
        store.close()


def test_zero_days_keeps_everything(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        job = _job_dir(tmp_path / "work", "ancient", age_days=3650)
        sweeper = RetentionSweeper(store, tmp_path / "work", retention_days=0, clock=lambda: time.time() * 2)
        assert not sweeper.enabled
        assert sweeper.sweep().job_dirs_removed == 0 and job.exists()
    finally:
        store.close()


def test_a_repositorys_cached_clone_goes_once_no_job_has_used_it_for_the_retention(tmp_path: Path) -> None:
    from bot.adapters.clone_cache import CloneCache

    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        clones = tmp_path / "work" / "clones"
        origin = tmp_path / "origin"
        origin.mkdir()
        for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "first"]):
            subprocess.run(["git", *args], cwd=origin, check=True, capture_output=True)
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            CloneCache(clones).working_copy(f"file://{origin}", tmp_path / name / "repo", checkout="main",
                                            branch=None, env=dict(os.environ))  # fmt: skip
        [cache] = clones.glob("*.git")
        now = [time.time()]
        sweeper = RetentionSweeper(store, tmp_path / "work", retention_days=30, clock=lambda: now[0])
        sweeper.sweep()
        assert cache.exists()  # used a moment ago
        now[0] += 31 * DAY_SECONDS
        assert sweeper.sweep().job_dirs_removed == 1
        assert not cache.exists()
    finally:
        store.close()


def test_kept_job_logs_go_after_the_retention_and_cards_stay(tmp_path: Path) -> None:
    from bot.adapters.store import StoredReport

    now = [time.time()]
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}", clock=lambda: now[0])
    try:
        for rid, kind in (("a" * 32, "job-log"), ("b" * 32, "model-card"), ("c" * 32, "drift-report")):
            store.save_report(
                StoredReport(rid, "acme/churn", "churn", kind, "x", "text/plain", b"x", "", now[0])
            )
        sweeper = RetentionSweeper(store, tmp_path / "work", retention_days=30, clock=lambda: now[0])
        assert sweeper.sweep().payloads_cleared == 0 and store.report("a" * 32) is not None
        now[0] += 31 * DAY_SECONDS
        assert sweeper.sweep().payloads_cleared == 1
        assert store.report("a" * 32) is None  # the job's log, past the retention
        assert store.report("b" * 32) is not None and store.report("c" * 32) is not None  # the history stays
    finally:
        store.close()
