"""Reports a reader can open and the monitoring history (issue 13): `reports` keeps what the bot wrote
for a reader (Evidently HTML, a job's log), served at `/reports/<id>`; `monitoring_checks` keeps one row
per scheduled check, read by the dashboard and `/metrics`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("mlflow_run_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_index("ix_reports_model", "reports", ["repository", "model", "created_at"])
    op.create_table(
        "monitoring_checks",
        sa.Column("repository", sa.String(200), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("check_id", sa.String(64), primary_key=True),
        sa.Column("checked_at", sa.Double, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
    )
    op.create_index("ix_monitoring_checks_time", "monitoring_checks", ["repository", "model", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_monitoring_checks_time", "monitoring_checks")
    op.drop_table("monitoring_checks")
    op.drop_index("ix_reports_model", "reports")
    op.drop_table("reports")
