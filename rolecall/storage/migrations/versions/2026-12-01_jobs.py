"""job records and job schedules

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from rolecall.storage.tables import UTCDateTime

revision = "0010"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("run_after", UTCDateTime(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_job_status_known")),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_job_account_id_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_job_idempotency_key")),
    )
    op.create_index(op.f("ix_job_account_id"), "job", ["account_id"])
    op.create_index("ix_job_status_lease_until", "job", ["status", "lease_until"])
    op.create_table(
        "job_schedule",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=True),
        sa.Column("label", sa.String(120), nullable=False),
        sa.Column("job_name", sa.String(80), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("daily_at", sa.String(5), nullable=True),
        sa.Column("every_seconds", sa.Integer(), nullable=True),
        sa.Column("next_run_at", UTCDateTime(), nullable=False),
        sa.Column("last_job_id", sa.String(24), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("(daily_at IS NULL) <> (every_seconds IS NULL)", name=op.f("ck_job_schedule_one_rule")),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_job_schedule_account_id_account"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_schedule")),
        sa.UniqueConstraint("account_id", "label", name=op.f("uq_job_schedule_account_id_label")),
    )
    op.create_index(op.f("ix_job_schedule_account_id"), "job_schedule", ["account_id"])
    op.create_index(op.f("ix_job_schedule_next_run_at"), "job_schedule", ["next_run_at"])


def downgrade() -> None:
    op.drop_table("job_schedule")
    op.drop_table("job")
