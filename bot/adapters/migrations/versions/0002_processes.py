"""Live bot processes: each `serve` and `worker` registers itself and beats a heartbeat.

With several replicas on one database, `/healthz` and `mlops-bot db current` can say how many workers are
alive, and a delivery's `lease_owner` can be matched to the process that holds it. The lease-owner index
makes "what does this worker hold" (the check after a replica dies) an index lookup.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processes",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("heartbeat_at", sa.Double, nullable=False),
    )
    op.create_index("ix_processes_heartbeat", "processes", ["heartbeat_at"])
    op.create_index("ix_deliveries_lease_owner", "deliveries", ["lease_owner"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_lease_owner", table_name="deliveries")
    op.drop_index("ix_processes_heartbeat", table_name="processes")
    op.drop_table("processes")
