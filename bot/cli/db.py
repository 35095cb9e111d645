"""`mlops-bot db upgrade|current|check`: the bot's database schema.

On PostgreSQL the bot never migrates by itself: replicas of two versions may share the database during a
rollout, so the operator decides when (see docs/deploy.md). SQLite, the single-machine default, migrates
when the bot opens it; these commands work there too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bot.cli import UserError
from bot.cli.output import add_json_option, write_text


def register(sub: Any) -> None:
    p = sub.add_parser(
        "db",
        help="migrate or inspect the bot's database schema (`db upgrade` before starting a new version)",
        description="The bot's state (deliveries, queue, locks, live processes) is versioned with Alembic. "
        "On PostgreSQL run `mlops-bot db upgrade` once per release, before the new version starts.",
    )
    commands = p.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    upgrade = commands.add_parser("upgrade", help="apply every migration this version knows")
    upgrade.add_argument(
        "--revision",
        default="head",
        help="stop at this revision instead of the newest (default: %(default)s)",
    )
    current = commands.add_parser("current", help="print the schema revision and the live processes")
    add_json_option(current, "the revision and the live processes")
    check = commands.add_parser(
        "check", help="exit 0 when the schema is the one this version needs, 1 (and say why) otherwise"
    )
    for command in (upgrade, current, check):
        command.add_argument("--database-url", help="the bot's database (default: $MLOPS_BOT_DATABASE_URL)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import exc

    from bot.adapters.store import SchemaMismatch, database_error, safe_url
    from bot.cli.serve import settings_from

    url = settings_from(args).database_url
    try:
        if args.db_command == "upgrade":
            return _upgrade(url, args.revision)
        if args.db_command == "current":
            return _current(url, json_to=args.json)
        return _check(url)
    except SchemaMismatch as error:
        raise UserError(str(error)) from error
    except exc.SQLAlchemyError as error:
        raise UserError(f"cannot use the database {safe_url(url)}: {database_error(error)}") from error


def _upgrade(url: str, revision: str) -> int:
    from alembic.util import CommandError

    from bot.adapters import migrations
    from bot.adapters.store import safe_url

    try:
        before, after = migrations.upgrade(url, revision)
    except CommandError as error:
        raise UserError(f"cannot upgrade to {revision!r}: {error}") from error
    where = safe_url(url)
    if before.revision == after.revision and not before.pre_migration:
        print(f"{where}: schema already at revision {after.revision}")
    else:
        print(f"{where}: schema upgraded from {before.revision or 'empty'} to {after.revision}")
    return 0


def _current(url: str, *, json_to: Path | None) -> int:
    from bot.adapters import migrations
    from bot.adapters.store import SCHEMA_REVISION, Store

    status = migrations.current(url)
    processes = []
    if status.is_current:
        store = Store(url, auto_upgrade=False)
        try:
            processes = [row.to_dict() for row in store.live_processes()]
        finally:
            store.close()
    if json_to is not None:
        report = {"revision": status.revision, "needed": SCHEMA_REVISION, "processes": processes}
        write_text(json_to, json.dumps(report, indent=2))
        return 0
    state = "current" if status.is_current else status.explain("this database")
    print(f"revision: {status.revision or 'none (empty database)'}  ({state})")
    for row in processes:
        seen = time.time() - row["heartbeat_at"]
        print(f"  {row['role']:<6} {row['id']}  mlops-bot {row['version']}  last seen {seen:.0f}s ago")
    return 0


def _check(url: str) -> int:
    from bot.adapters import migrations
    from bot.adapters.store import safe_url

    status = migrations.current(url)
    if status.is_current:
        print(f"{safe_url(url)}: schema at revision {status.revision}, as this version needs")
        return 0
    print(status.explain(f"the database {safe_url(url)}"), file=sys.stderr)
    return 1
