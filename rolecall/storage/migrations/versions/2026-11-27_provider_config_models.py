"""cached model list on provider configs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from rolecall.storage.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provider_config") as batch:
        batch.add_column(sa.Column("models", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("models_fetched_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provider_config") as batch:
        batch.drop_column("models_fetched_at")
        batch.drop_column("models")
