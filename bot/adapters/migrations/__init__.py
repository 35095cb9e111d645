"""Schema migrations of the bot's database (Alembic), and the functions that apply and inspect them.

Revisions live in `versions/` as `NNNN_what.py`. The version is kept in its own table,
`mlops_bot_schema_version`, not Alembic's default `alembic_version`: a team may well point the bot and
MLflow (which also migrates with Alembic) at one PostgreSQL database.

To add a revision: copy the newest file in `versions/`, bump the number, set `down_revision`, write
`upgrade()` with `alembic.op`, and bump `SCHEMA_REVISIONS` in `bot/adapters/store/schema.py` (a test keeps them
equal and checks that the migrated schema matches the tables the store queries).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

from bot.adapters.store.schema import (
    PRE_MIGRATION_REVISION,
    VERSION_TABLE,
    SchemaMismatch,
    SchemaStatus,
    make_engine,
    read_schema_status,
)

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

__all__ = ["VERSION_TABLE", "current", "revisions", "upgrade", "upgrade_connection"]

# Serialises concurrent `db upgrade`s (two containers starting at once) on PostgreSQL. A transaction-scoped
# advisory lock is the right tool here, unlike for the bot's named locks: it lives exactly as long as the
# migration's transaction, on the connection that runs it. The value is "mlopsbot" in ASCII.
_MIGRATION_LOCK_KEY = 0x6D6C6F7073626F74


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["connection"] = connection
    return config


def revisions() -> list[str]:
    """Every revision, oldest first."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


def head() -> str:
    from alembic.script import ScriptDirectory

    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if found is None:
        raise RuntimeError("the bot's migrations have no head revision")
    return found


def current(url: str) -> SchemaStatus:
    """The schema revision of the database at `url` (read only)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return read_schema_status(conn)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> tuple[SchemaStatus, SchemaStatus]:
    """Migrate the database at `url` to `revision`, in one transaction. (status before, status after)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            return upgrade_connection(conn, revision)
    finally:
        engine.dispose()


def upgrade_connection(conn: Connection, revision: str = "head") -> tuple[SchemaStatus, SchemaStatus]:
    """`upgrade` on a connection inside a transaction the caller commits.

    Raises SchemaMismatch when the database is at a revision this code does not know (a newer mlops-bot
    migrated it): there is no path from there, and guessing could destroy data.
    """
    from alembic import command

    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    before = read_schema_status(conn)  # read under the lock: another process may have just migrated
    if not before.known:
        raise SchemaMismatch(before.explain())
    config = alembic_config(conn)
    if before.pre_migration:
        command.stamp(config, PRE_MIGRATION_REVISION)
    command.upgrade(config, revision)
    return before, read_schema_status(conn)
