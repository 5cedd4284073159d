"""model stars and model-list refresh errors

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from rolecall.storage.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provider_config") as batch:
        batch.add_column(sa.Column("models_error", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "model_star",
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("section", sa.String(40), nullable=False),
        sa.Column("model_id", sa.String(256), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_model_star_account_id_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "section", "model_id", name=op.f("pk_model_star")),
    )


def downgrade() -> None:
    op.drop_table("model_star")
    with op.batch_alter_table("provider_config") as batch:
        batch.drop_column("models_error")
