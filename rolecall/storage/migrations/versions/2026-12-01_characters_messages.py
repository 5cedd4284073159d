"""characters, scene model and cast, messages with alternatives

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from rolecall.storage.tables import UTCDateTime

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f(f"fk_{table}_account_id_account"), ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "character",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("persona", sa.Text(), nullable=False),
        sa.Column("first_message", sa.Text(), nullable=False),
        sa.Column("example_dialogue", sa.Text(), nullable=False),
        sa.Column("avatar_color", sa.String(7), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _account_fk("character"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_character")),
    )
    op.create_index(op.f("ix_character_account_id"), "character", ["account_id"])

    with op.batch_alter_table("scene") as batch:
        batch.add_column(sa.Column("model_section", sa.String(40), nullable=True))
        batch.add_column(sa.Column("model_id", sa.String(256), nullable=True))
        batch.add_column(sa.Column("last_activity_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE scene SET last_activity_at = updated_at")
    with op.batch_alter_table("scene") as batch:
        batch.alter_column("last_activity_at", existing_type=UTCDateTime(), nullable=False)
        batch.create_index(op.f("ix_scene_last_activity_at"), ["last_activity_at"])

    op.create_table(
        "scene_character",
        sa.Column("scene_id", sa.String(24), nullable=False),
        sa.Column("character_id", sa.String(24), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"], name=op.f("fk_scene_character_scene_id_scene"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["character_id"], ["character.id"], name=op.f("fk_scene_character_character_id_character"),
                                ondelete="CASCADE"),
        _account_fk("scene_character"),
        sa.PrimaryKeyConstraint("scene_id", "character_id", name=op.f("pk_scene_character")),
    )
    op.create_index(op.f("ix_scene_character_character_id"), "scene_character", ["character_id"])
    op.create_index(op.f("ix_scene_character_account_id"), "scene_character", ["account_id"])

    op.create_table(
        "message",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("scene_id", sa.String(24), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("character_id", sa.String(24), nullable=True),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("role IN ('user', 'assistant')", name=op.f("ck_message_role_known")),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"], name=op.f("fk_message_scene_id_scene"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["character_id"], ["character.id"], name=op.f("fk_message_character_id_character"),
                                ondelete="SET NULL"),
        _account_fk("message"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
    )
    op.create_index("ix_message_scene_id_position", "message", ["scene_id", "position"])
    op.create_index(op.f("ix_message_account_id"), "message", ["account_id"])

    op.create_table(
        "message_alternative",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("message_id", sa.String(24), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("finish_reason", sa.String(32), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("model_section", sa.String(40), nullable=True),
        sa.Column("model_id", sa.String(256), nullable=True),
        sa.Column("provider_id", sa.String(32), nullable=True),
        sa.Column("error_kind", sa.String(32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('complete', 'streaming', 'interrupted', 'error')",
                           name=op.f("ck_message_alternative_status_known")),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], name=op.f("fk_message_alternative_message_id_message"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_alternative")),
        sa.UniqueConstraint("message_id", "idx", name=op.f("uq_message_alternative_message_id_idx")),
    )


def downgrade() -> None:
    op.drop_table("message_alternative")
    op.drop_table("message")
    op.drop_table("scene_character")
    with op.batch_alter_table("scene") as batch:
        batch.drop_index(op.f("ix_scene_last_activity_at"))
        batch.drop_column("last_activity_at")
        batch.drop_column("model_id")
        batch.drop_column("model_section")
    op.drop_table("character")
