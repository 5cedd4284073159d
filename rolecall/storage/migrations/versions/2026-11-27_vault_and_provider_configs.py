"""vault keys and provider configs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from rolecall.storage.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_key",
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("kdf_salt", sa.String(64), nullable=False),
        sa.Column("udk_gen", sa.Integer(), nullable=False),
        sa.Column("wrapped_udk", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("wrapped_udk LIKE 'rc1.udk.%'", name=op.f("ck_vault_key_wrapped_udk_is_envelope")),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_vault_key_account_id_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_vault_key")),
    )
    op.create_table(
        "provider_config",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(24), nullable=False),
        sa.Column("provider_id", sa.String(32), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("privacy_mode", sa.String(8), nullable=False),
        sa.Column("base_url", sa.String(2048), nullable=False),
        sa.Column("dest_origin", sa.String(300), nullable=False),
        sa.Column("credential_ct", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("key_hint", sa.String(16), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("status_detail", sa.Text(), nullable=False),
        sa.Column("last_tested_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("credential_ct IS NULL OR credential_ct LIKE 'rc1.%'", name=op.f("ck_provider_config_credential_is_envelope")),
        sa.CheckConstraint("privacy_mode IN ('e2e', 'srv')", name=op.f("ck_provider_config_privacy_mode_known")),
        sa.CheckConstraint("status IN ('valid', 'invalid', 'untested')", name=op.f("ck_provider_config_status_known")),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_provider_config_account_id_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_config")),
        sa.UniqueConstraint("account_id", "label", name=op.f("uq_provider_config_account_id_label")),
    )
    op.create_index(op.f("ix_provider_config_account_id"), "provider_config", ["account_id"])
    op.create_index(op.f("ix_provider_config_key_id"), "provider_config", ["key_id"])


def downgrade() -> None:
    op.drop_table("provider_config")
    op.drop_table("vault_key")
