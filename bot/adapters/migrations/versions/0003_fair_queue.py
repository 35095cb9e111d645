"""Fair claiming across repositories: each delivery names its repository, and `queue_turns` records when
a worker last took a job of each repository, so the next claim goes to the repository whose turn is
oldest (issue 18: one repository's jobs must never starve the others).

Deliveries recorded before this revision get repository "" (one shared turn), which only affects the
order of what was already queued.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("repository", sa.String(200), nullable=False, server_default=""))
    op.create_table(
        "queue_turns",
        sa.Column("repository", sa.String(200), primary_key=True),
        sa.Column("claimed_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("queue_turns")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("repository")
