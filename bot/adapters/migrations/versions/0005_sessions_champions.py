"""Dashboard sessions in the store, and the champion each promotion or rollback left (issue 13).

`dashboard_sessions` keeps who is signed in to the dashboard, so a restart or a second replica keeps a
signed-in user signed in and signing out ends the session everywhere. The row's key is a hash of the
cookie's session id (a copy of the table opens no session) and the user's GitHub token is sealed
(AES-GCM, a key derived from MLOPS_BOT_SESSION_SECRET).

`champion_moves` keeps, per model, the version the newest promotion or rollback made champion and when,
so `/metrics` shows it at once instead of after the next scheduled check.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("login", sa.String(100), nullable=False),
        sa.Column("sealed_token", sa.LargeBinary, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
    )
    op.create_index("ix_dashboard_sessions_expires", "dashboard_sessions", ["expires_at"])
    op.create_table(
        "champion_moves",
        sa.Column("repository", sa.String(200), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("moved_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("champion_moves")
    op.drop_index("ix_dashboard_sessions_expires", "dashboard_sessions")
    op.drop_table("dashboard_sessions")
