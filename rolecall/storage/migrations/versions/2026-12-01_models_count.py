"""model count beside the cached model list

Listing configs only needs how many models each has; reading the whole list to count it cost
megabytes per request.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provider_config") as batch:
        batch.add_column(sa.Column("models_count", sa.Integer(), nullable=False, server_default="0"))
    table = sa.table("provider_config", sa.column("id", sa.String()), sa.column("models", sa.JSON()),
                     sa.column("models_count", sa.Integer()))
    conn = op.get_bind()
    # Counted in Python: JSON functions differ between SQLite and PostgreSQL, and a stored JSON null
    # is not an array to either of them.
    rows = conn.execute(sa.select(table.c.id, table.c.models).where(table.c.models.is_not(None))).all()
    for config_id, models in rows:
        if isinstance(models, list) and models:
            conn.execute(table.update().where(table.c.id == config_id).values(models_count=len(models)))


def downgrade() -> None:
    with op.batch_alter_table("provider_config") as batch:
        batch.drop_column("models_count")
