"""schedules keep the person's time zone: daily times and one-off times are local to it

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Schedules made before this were UTC, which is what the default keeps them at.
    with op.batch_alter_table("job_schedule") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC"))


def downgrade() -> None:
    with op.batch_alter_table("job_schedule") as batch:
        batch.drop_column("time_zone")
