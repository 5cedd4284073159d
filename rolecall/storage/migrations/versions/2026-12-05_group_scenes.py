"""group scenes: the orchestrator's rule, turn limit and running round; per-cast preset and mute

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scene") as batch:
        batch.add_column(sa.Column("group_rule", sa.String(16), nullable=False, server_default="round_robin"))
        batch.add_column(sa.Column("turn_limit", sa.Integer(), nullable=False, server_default="3"))
        batch.add_column(sa.Column("group_round", sa.Integer(), nullable=True))
    with op.batch_alter_table("scene_character") as batch:
        batch.add_column(sa.Column("preset_id", sa.String(24), nullable=True))
        batch.add_column(sa.Column("muted", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key("fk_scene_character_preset_id_preset", "preset", ["preset_id"], ["id"],
                                 ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("scene_character") as batch:
        batch.drop_constraint("fk_scene_character_preset_id_preset", type_="foreignkey")
        batch.drop_column("muted")
        batch.drop_column("preset_id")
    with op.batch_alter_table("scene") as batch:
        batch.drop_column("group_round")
        batch.drop_column("turn_limit")
        batch.drop_column("group_rule")
