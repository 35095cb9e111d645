"""Schema migrations: from an empty database, from the previous schema with rows in it, and the refusals
that keep a bot off a schema it does not know -- on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, text

from bot.adapters import migrations
from bot.adapters.store import SCHEMA_REVISION, SchemaMismatch, Store, deliveries, locks
from bot.adapters.store.schema import SCHEMA_REVISIONS, VERSION_TABLE, metadata
from bot.cli import UserError, db

_ROOT = Path(__file__).resolve().parents[2]


def run_db(*argv: str) -> int:
    """`mlops-bot db ...` as the CLI's main() runs it (UserError: exit 2)."""
    parser = argparse.ArgumentParser(prog="mlops-bot")
    db.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["db", *argv])
    try:
        return int(args.func(args))
    except UserError as error:
        print(f"mlops-bot db: {error}", file=sys.stderr)
        return 2


def test_the_store_knows_every_revision_alembic_has() -> None:
    assert tuple(migrations.revisions()) == SCHEMA_REVISIONS
    assert migrations.head() == SCHEMA_REVISION


def test_migrations_build_exactly_the_tables_the_store_queries(empty_database: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    migrations.upgrade(empty_database)
    engine = create_engine(empty_database)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_db_upgrade_builds_the_schema_in_an_empty_database(
    empty_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_db("check", "--database-url", empty_database) == 1
    assert "run `mlops-bot db upgrade`" in capsys.readouterr().err

    assert run_db("upgrade", "--database-url", empty_database) == 0
    assert f"schema upgraded from empty to {SCHEMA_REVISION}" in capsys.readouterr().out
    assert run_db("upgrade", "--database-url", empty_database) == 0
    assert f"schema already at revision {SCHEMA_REVISION}" in capsys.readouterr().out
    assert run_db("check", "--database-url", empty_database) == 0

    store = Store(empty_database, auto_upgrade=False)
    assert store.accept("d-1", "push", None, b"{}") is True
    store.close()


def test_postgres_refuses_a_schema_that_is_missing_or_behind(postgres_database: str) -> None:
    with pytest.raises(SchemaMismatch, match=r"no mlops-bot schema yet.*run `mlops-bot db upgrade`"):
        Store(postgres_database)
    migrations.upgrade(postgres_database, "0001")
    with pytest.raises(SchemaMismatch, match=rf"revision 0001, but .* needs revision {SCHEMA_REVISION}"):
        Store(postgres_database)
    assert migrations.current(postgres_database).revision == "0001"  # refusing changed nothing


def test_sqlite_upgrades_itself_when_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrations.upgrade(url, "0001")
    Store(url).close()
    assert migrations.current(url).revision == SCHEMA_REVISION


def test_upgrading_the_previous_schema_keeps_deliveries_and_locks(
    empty_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    migrations.upgrade(empty_database, "0001")
    now = time.time()
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(
            insert(deliveries),
            [
                _row("waiting", "queued", now),
                _row("finished", "done", now - 10),
                _row("orphaned", "running", now - 5, lease_owner="dead-worker", lease_expires_at=now - 1),
            ],
        )
        conn.execute(insert(locks).values(name="promote:churn", owner="w-1", expires_at=now + 600))
    engine.dispose()

    assert run_db("upgrade", "--database-url", empty_database) == 0
    assert f"from 0001 to {SCHEMA_REVISION}" in capsys.readouterr().out

    store = Store(empty_database, auto_upgrade=False)
    assert {r.id: r.status for r in store.list()} == {
        "waiting": "queued",
        "finished": "done",
        "orphaned": "running",
    }
    assert store.lock_owner("promote:churn") == "w-1"
    claimed = {store.claim("w-2").id, store.claim("w-2").id}  # type: ignore[union-attr]
    assert claimed == {"waiting", "orphaned"}  # the expired lease is rescued after the upgrade too
    store.register_process("w-2", "worker")  # the table revision 0002 adds
    assert [p.id for p in store.live_processes()] == ["w-2"]
    store.close()


def test_a_schema_from_a_newer_version_is_refused_and_not_touched(
    empty_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    migrations.upgrade(empty_database)
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099'"))  # noqa: S608
    engine.dispose()
    with pytest.raises(SchemaMismatch, match=r"revision 0099, which this mlops-bot .* does not know"):
        Store(empty_database)  # not even SQLite's auto-upgrade may touch it
    assert run_db("upgrade", "--database-url", empty_database) == 2
    assert "0099" in capsys.readouterr().err
    assert migrations.current(empty_database).revision == "0099"


def test_concurrent_upgrades_of_one_postgres_database_apply_once(postgres_database: str) -> None:
    """Two containers running `db upgrade` at the same moment: one migrates, the other finds it done."""
    outcomes: list[tuple[str | None, str | None]] = []
    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            before, after = migrations.upgrade(postgres_database)
            outcomes.append((before.revision, after.revision))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcomes, key=str) == sorted(
        [(None, SCHEMA_REVISION)] + [(SCHEMA_REVISION, SCHEMA_REVISION)] * 2, key=str
    )


@pytest.mark.slow
def test_serve_and_worker_refuse_to_start_on_a_schema_behind(postgres_database: str) -> None:
    migrations.upgrade(postgres_database, "0001")
    env = {"MLOPS_BOT_DATABASE_URL": postgres_database, "MLOPS_BOT_WEBHOOK_SECRET": "s", "PATH": ""}
    for command in (["serve", "--no-worker", "--port", "0"], ["worker"]):
        done = subprocess.run(
            [sys.executable, "-m", "bot", *command],
            env=env,
            cwd=_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "revision 0001" in done.stderr
        assert "run `mlops-bot db upgrade`" in done.stderr
        assert "Traceback" not in done.stderr


def _row(delivery_id: str, status: str, at: float, **extra: object) -> dict[str, object]:
    return {
        "id": delivery_id,
        "event": "issue_comment",
        "action": "created",
        "payload": b'{"action": "created"}',
        "status": status,
        "attempts": 1 if status != "queued" else 0,
        "available_at": at,
        "received_at": at,
        "updated_at": at,
        "lease_owner": None,  # every row names every column: an executemany takes its columns from the first
        "lease_expires_at": None,
        **extra,
    }


def test_db_current_names_the_revision_and_the_live_processes(
    empty_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_db("current", "--database-url", empty_database) == 0
    assert "revision: none (empty database)" in capsys.readouterr().out
    migrations.upgrade(empty_database)
    store = Store(empty_database)
    store.register_process("worker-7", "worker")
    assert run_db("current", "--database-url", empty_database) == 0
    text_report = capsys.readouterr().out
    assert f"revision: {SCHEMA_REVISION}  (current)" in text_report
    assert "worker-7" in text_report
    assert run_db("current", "--json", "--database-url", empty_database) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["revision"], [p["id"] for p in report["processes"]]) == (SCHEMA_REVISION, ["worker-7"])
    store.close()


def test_db_commands_say_when_the_database_cannot_be_reached(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg://bot:hunter2@127.0.0.1:1/nowhere"
    assert run_db("check", "--database-url", url) == 2
    message = capsys.readouterr().err
    assert "cannot use the database postgresql+psycopg://bot:***@127.0.0.1:1/nowhere" in message
    assert "hunter2" not in message
