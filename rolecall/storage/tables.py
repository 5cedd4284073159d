"""SQLAlchemy tables. Every table owned by an account carries ``account_id``.

Conventions: singular snake-case table names, ``_at`` for timestamps (UTC), string ids made by
``new_id()``, and named constraints so Alembic's batch mode on SQLite stays predictable.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return secrets.token_hex(12)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out (SQLite forgets the zone; PostgreSQL keeps it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Account(Base):
    __tablename__ = "account"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(40))
    # Lower-cased name: "Ada" and "ada" are the same account name.
    name_key: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "login_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class VaultKey(Base):
    """An account's end-to-end key record: only the salt and the wrapped user data key.

    The server never sees the phrase, the seed or anything derived from them (docs/security.md,
    "End-to-end key hierarchy").
    """

    __tablename__ = "vault_key"
    __table_args__ = (CheckConstraint("wrapped_udk LIKE 'rc1.udk.%'", name="wrapped_udk_is_envelope"),)

    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    kdf_salt: Mapped[str] = mapped_column(String(64))
    udk_gen: Mapped[int] = mapped_column(Integer)
    wrapped_udk: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProviderConfig(Base):
    """One BYOK connection. The credential column only ever holds an ``rc1.`` envelope."""

    __tablename__ = "provider_config"
    __table_args__ = (
        UniqueConstraint("account_id", "label"),
        CheckConstraint("credential_ct IS NULL OR credential_ct LIKE 'rc1.%'", name="credential_is_envelope"),
        CheckConstraint("privacy_mode IN ('e2e', 'srv')", name="privacy_mode_known"),
        CheckConstraint("status IN ('valid', 'invalid', 'untested')", name="status_known"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(80))
    privacy_mode: Mapped[str] = mapped_column(String(8))
    base_url: Mapped[str] = mapped_column(String(2048))
    dest_origin: Mapped[str] = mapped_column(String(300))
    credential_ct: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Server-accessible rows: the key-ring id that wraps the DEK, for rotation and start-up checks.
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    key_hint: Mapped[str | None] = mapped_column(String(16), nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="untested")
    status_detail: Mapped[str] = mapped_column(Text, default="")
    last_tested_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The model list from the last successful test (or refresh), as the provider described it.
    models: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # len(models), kept beside it so listing configs never reads the lists themselves.
    models_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    models_fetched_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Why the last background refresh of the list failed ("" when it worked); the old list stays.
    models_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


    @validates("models")
    def _count_models(self, key: str, models: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        self.models_count = len(models or [])
        return models


class ModelStar(Base):
    """A model a person pinned to the top of every picker. ``section`` is a config id or "premiere"."""

    __tablename__ = "model_star"

    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    section: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessToken(Base):
    """A personal access token for the OpenAI-compatible API (``/v1``). Only its SHA-256 is stored.

    ``scopes`` is a comma-separated subset of "chat,models". A revoked token keeps its row (with
    ``revoked_at``) so a client using it is told it was revoked, not that it never existed.
    """

    __tablename__ = "access_token"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The last four characters, so a person can tell their tokens apart in the list.
    hint: Mapped[str] = mapped_column(String(8))
    scopes: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


# Domains with tables of their own (tables grow by domain): importing them registers them. The
# generation module holds presets, token balances and the usage log.
from rolecall.storage.generation_tables import (  # noqa: E402
    Preset,
    PresetSlot,
    ScenePreset,
    TokenLedger,
    UsageEvent,
)
from rolecall.storage.job_tables import JobRecord, JobSchedule  # noqa: E402
from rolecall.storage.scene_tables import (  # noqa: E402
    Character,
    Message,
    MessageAlternative,
    Scene,
    SceneCharacter,
    SceneSummary,
)

__all__ = [
    "AccessToken", "Account", "Base", "Character", "JobRecord", "JobSchedule", "LoginSession", "Message", "MessageAlternative",
    "ModelStar", "Preset", "PresetSlot", "ProviderConfig", "Scene", "SceneCharacter", "ScenePreset",
    "SceneSummary", "TokenLedger", "UTCDateTime",
    "UsageEvent", "VaultKey", "new_id", "utcnow",
]
