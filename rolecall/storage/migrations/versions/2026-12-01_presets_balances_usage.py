"""presets with fallback slots, token ledger, usage log

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from rolecall.storage.tables import UTCDateTime

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f(f"fk_{table}_account_id_account"), ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "preset",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _account_fk("preset"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preset")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_preset_account_id_name")),
    )
    op.create_index(op.f("ix_preset_account_id"), "preset", ["account_id"])
    op.create_table(
        "preset_slot",
        sa.Column("preset_id", sa.String(24), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("config_id", sa.String(36), nullable=True),
        sa.Column("config_label", sa.String(80), nullable=False),
        sa.Column("model_id", sa.String(256), nullable=False),
        sa.CheckConstraint("kind IN ('config', 'premiere')", name=op.f("ck_preset_slot_kind_known")),
        sa.ForeignKeyConstraint(["preset_id"], ["preset.id"], name=op.f("fk_preset_slot_preset_id_preset"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["config_id"], ["provider_config.id"], name=op.f("fk_preset_slot_config_id_provider_config"),
                                ondelete="SET NULL"),
        _account_fk("preset_slot"),
        sa.PrimaryKeyConstraint("preset_id", "position", name=op.f("pk_preset_slot")),
    )
    op.create_index(op.f("ix_preset_slot_account_id"), "preset_slot", ["account_id"])
    op.create_index(op.f("ix_preset_slot_config_id"), "preset_slot", ["config_id"])
    op.create_table(
        "scene_preset",
        sa.Column("scene_id", sa.String(24), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("preset_id", sa.String(24), nullable=False),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"], name=op.f("fk_scene_preset_scene_id_scene"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["preset_id"], ["preset.id"], name=op.f("fk_scene_preset_preset_id_preset"), ondelete="CASCADE"),
        _account_fk("scene_preset"),
        sa.PrimaryKeyConstraint("scene_id", name=op.f("pk_scene_preset")),
    )
    op.create_index(op.f("ix_scene_preset_account_id"), "scene_preset", ["account_id"])
    op.create_index(op.f("ix_scene_preset_preset_id"), "scene_preset", ["preset_id"])
    op.create_table(
        "token_ledger",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(24), nullable=True),
        sa.Column("usage_id", sa.String(24), nullable=True),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('grant', 'refill', 'debit')", name=op.f("ck_token_ledger_kind_known")),
        _account_fk("token_ledger"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_ledger")),
        sa.UniqueConstraint("account_id", "period", name=op.f("uq_token_ledger_account_id_period")),
    )
    op.create_index(op.f("ix_token_ledger_account_id"), "token_ledger", ["account_id"])
    op.create_table(
        "usage_event",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("scene_id", sa.String(24), nullable=True),
        sa.Column("preset_id", sa.String(24), nullable=True),
        sa.Column("slot_position", sa.Integer(), nullable=True),
        sa.Column("section", sa.String(40), nullable=False),
        sa.Column("config_label", sa.String(80), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("error_kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("ttft_ms", sa.Integer(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("premiere_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.CheckConstraint("outcome IN ('ok', 'skipped', 'error', 'interrupted', 'cancelled')",
                           name=op.f("ck_usage_event_outcome_known")),
        _account_fk("usage_event"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_event")),
    )
    op.create_index("ix_usage_event_account_id_at", "usage_event", ["account_id", "at"])


def downgrade() -> None:
    op.drop_table("usage_event")
    op.drop_table("token_ledger")
    op.drop_table("scene_preset")
    op.drop_table("preset_slot")
    op.drop_table("preset")
