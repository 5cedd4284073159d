"""Tables around generation: presets and their fallback chains, token balances, the usage log.

* ``preset`` holds sampler settings (JSON, validated by ``services.presets``) and a system
  prompt template; ``preset_slot`` is its API Options chain, position 0 the primary model. A
  slot names a provider config (``kind = 'config'``) or the Premiere Theater. Deleting the
  config sets ``config_id`` to NULL: the slot stays in place, marked broken, so the person sees
  which fallback went away instead of a chain that silently got shorter.
* ``token_ledger`` is the Premiere Theater balance as rows: the balance is their sum. Debits
  are inserts, never an update of one number, so concurrent debits cannot lose each other;
  ``period`` makes the starting grant and each refill happen once per account (unique).
* ``usage_event`` is one row per generation attempt. It keeps plain copies (label, provider,
  model) rather than foreign keys, so the log outlives the configs, presets and scenes it names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rolecall.storage.tables import Base, new_id, utcnow

OUTCOMES = ("ok", "skipped", "error", "interrupted", "cancelled")


class Preset(Base):
    __tablename__ = "preset"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PresetSlot(Base):
    __tablename__ = "preset_slot"
    __table_args__ = (CheckConstraint("kind IN ('config', 'premiere')", name="kind_known"),)

    preset_id: Mapped[str] = mapped_column(ForeignKey("preset.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    config_id: Mapped[str | None] = mapped_column(
        ForeignKey("provider_config.id", ondelete="SET NULL"), nullable=True, index=True)
    # The label when the slot was saved: what a broken slot still shows.
    config_label: Mapped[str] = mapped_column(String(80), default="")
    model_id: Mapped[str] = mapped_column(String(256))


class ScenePreset(Base):
    """Which preset a scene uses (absent: the account's default preset)."""

    __tablename__ = "scene_preset"

    scene_id: Mapped[str] = mapped_column(ForeignKey("scene.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    preset_id: Mapped[str] = mapped_column(ForeignKey("preset.id", ondelete="CASCADE"), index=True)


class TokenLedger(Base):
    __tablename__ = "token_ledger"
    __table_args__ = (
        UniqueConstraint("account_id", "period"),
        CheckConstraint("kind IN ('grant', 'refill', 'debit')", name="kind_known"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    delta: Mapped[int] = mapped_column(BigInteger)
    # "grant" or the refill period ("day:2026-12-01"); NULL for debits (NULLs never collide).
    period: Mapped[str | None] = mapped_column(String(24), nullable=True)
    usage_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    model_id: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class UsageEvent(Base):
    __tablename__ = "usage_event"
    __table_args__ = (
        CheckConstraint("outcome IN ('ok', 'skipped', 'error', 'interrupted', 'cancelled')", name="outcome_known"),
        Index("ix_usage_event_account_id_at", "account_id", "at"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    scene_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    preset_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    slot_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A provider config id or "premiere"; the label as it was then.
    section: Mapped[str] = mapped_column(String(40))
    config_label: Mapped[str] = mapped_column(String(80))
    provider: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(256))
    outcome: Mapped[str] = mapped_column(String(12))
    error_kind: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ttft_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    input_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    premiere_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
