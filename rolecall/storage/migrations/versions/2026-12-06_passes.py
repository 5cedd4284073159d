"""post-production passes: scene summaries, alternatives made by a job, one-off schedules

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from rolecall.storage.tables import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scene_summary",
        sa.Column("scene_id", sa.String(24), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("through_position", sa.Integer(), nullable=False),
        sa.Column("covered", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(24), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"], name=op.f("fk_scene_summary_scene_id_scene"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_scene_summary_account_id_account"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("scene_id", name=op.f("pk_scene_summary")),
    )
    op.create_index(op.f("ix_scene_summary_account_id"), "scene_summary", ["account_id"])
    with op.batch_alter_table("message_alternative") as batch:
        batch.add_column(sa.Column("origin", sa.String(16), nullable=True))
        batch.add_column(sa.Column("job_id", sa.String(24), nullable=True))
    op.create_index("ix_message_alternative_job_id", "message_alternative", ["job_id"], unique=True)
    with op.batch_alter_table("job_schedule") as batch:
        batch.add_column(sa.Column("run_once", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("job_schedule") as batch:
        batch.drop_column("run_once")
    op.drop_index("ix_message_alternative_job_id", "message_alternative")
    with op.batch_alter_table("message_alternative") as batch:
        batch.drop_column("job_id")
        batch.drop_column("origin")
    op.drop_table("scene_summary")
