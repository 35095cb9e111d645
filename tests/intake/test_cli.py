"""`mlops-bot deliveries` and `mlops-bot worker`, run through the real command-line entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.adapters.store import STATUSES, Store
from bot.cli import main
from bot.cli.deliveries import STATUSES as CLI_STATUSES


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


def test_the_cli_offers_the_stores_statuses() -> None:
    assert CLI_STATUSES == STATUSES


def test_deliveries_lists_a_table_and_json(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(db)
    store.accept("d-1", "issue_comment", "created", b"{}")
    store.accept("d-2", "push", None, b"{}")
    store.claim("w")
    store.fail("d-1", "w", "PermanentError: no config\nsecond line", retry_in=None)
    store.close()

    assert main(["deliveries", "--database-url", db]) == 0
    table = capsys.readouterr().out.splitlines()
    header = ["ID", "EVENT", "ACTION", "STATUS", "ATTEMPTS", "RECEIVED", "NOTE", "LAST_ERROR"]
    assert table[0].split() == header
    assert table[1].split()[:5] == ["d-2", "push", "-", "queued", "0"]
    assert "PermanentError: no config second line" in table[2]

    assert main(["deliveries", "--database-url", db, "--json", "--status", "failed"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"], r["attempts"]) for r in rows] == [("d-1", "failed", 1)]
    assert rows[0]["last_error"].startswith("PermanentError")


def test_deliveries_requeue(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(db)
    store.accept("d-1", "push", None, b"{}")
    store.close()
    assert main(["deliveries", "--database-url", db, "--requeue", "d-1"]) == 2  # queued: nothing to requeue
    assert "no failed or done delivery 'd-1'" in capsys.readouterr().err


def test_worker_once_drains_the_queue_with_a_handler_by_name(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(db)
    store.accept_many([(f"d-{n}", "push", None, b"{}") for n in range(3)])
    argv = ["worker", "--database-url", db, "--once", "--handler", "bot.worker:log_only_handler"]
    assert main(argv) == 0
    assert {row.status for row in store.list()} == {"done"}
    store.close()


def test_a_handler_that_cannot_be_loaded_is_a_clear_error(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["worker", "--database-url", db, "--once", "--handler", "nowhere:handle"]) == 2
    err = capsys.readouterr().err
    assert "cannot set up the delivery handlers" in err and "nowhere:handle" in err
