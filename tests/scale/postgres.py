"""A real PostgreSQL for tests: the server named by MLOPS_BOT_TEST_POSTGRES_URL (`scripts/ci-postgres.sh`
starts one and prints its URL), with a fresh database per use so tests never see each other's rows."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

ENV = "MLOPS_BOT_TEST_POSTGRES_URL"
SKIP_REASON = (
    f"{ENV} is not set: start a server with `export {ENV}=$(bash scripts/ci-postgres.sh)` "
    "(.ci/run does) to run the PostgreSQL tests"
)


def server_url() -> str | None:
    return os.environ.get(ENV) or None


@contextlib.contextmanager
def fresh_database(url: str, prefix: str = "mlops_bot_test") -> Iterator[str]:
    """A new, empty database on the server at `url` (its user must be allowed to create databases);
    dropped afterwards, along with any connection a killed process left behind."""
    from sqlalchemy import create_engine, make_url, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
