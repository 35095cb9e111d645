"""Alembic's entry point for the bot's schema.

Run through `bot.adapters.migrations.upgrade` (`mlops-bot db upgrade`, or a SQLite store upgrading itself),
which hands over a connection already inside the transaction that holds the migration lock: every
revision of one upgrade commits together or not at all (PostgreSQL and SQLite both have transactional DDL).
"""

from __future__ import annotations

from alembic import context

from bot.adapters.migrations import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("apply the bot's migrations with `mlops-bot db upgrade`, not with the alembic command")

context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
