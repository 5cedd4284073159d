"""Tables of the scene domain: characters, scenes, their cast, and the messages with alternatives.

A message is a turn in a scene; what it says lives in its alternatives (a user message has one,
an assistant reply gains one per Regenerate), and ``active`` says which one the scene shows.
Each alternative records how it was made (model, finish reason, token usage) and its status:
``streaming`` while a reply is being generated, ``interrupted`` when the stream stopped early
(Stop, a broken connection, a restart), ``complete`` otherwise.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from rolecall.storage.tables import Base, new_id, utcnow

STATUSES = ("complete", "streaming", "interrupted", "error")


class Character(Base):
    __tablename__ = "character"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    persona: Mapped[str] = mapped_column(Text, default="")
    first_message: Mapped[str] = mapped_column(Text, default="")
    example_dialogue: Mapped[str] = mapped_column(Text, default="")
    avatar_color: Mapped[str] = mapped_column(String(7), default="#6b7280")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Scene(Base):
    __tablename__ = "scene"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # The chosen model: a provider config id or "premiere", and the model id within it.
    model_section: Mapped[str | None] = mapped_column(String(40), nullable=True)
    model_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # Group scenes (docs/group-scenes.md): who speaks next, how many turns follow a message, and the
    # position of the person's message whose round is running (NULL: none; Stop clears it).
    group_rule: Mapped[str] = mapped_column(String(16), default="round_robin", server_default="round_robin")
    turn_limit: Mapped[int] = mapped_column(Integer, default=3, server_default=text("3"))
    group_round: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SceneCharacter(Base):
    """A character cast in a scene (solo scenes have one, group scenes several).

    ``preset_id``: the character's own preset (its model chain), else the scene's; ``muted``: the
    orchestrator passes over it."""

    __tablename__ = "scene_character"

    scene_id: Mapped[str] = mapped_column(ForeignKey("scene.id", ondelete="CASCADE"), primary_key=True)
    character_id: Mapped[str] = mapped_column(ForeignKey("character.id", ondelete="CASCADE"), primary_key=True, index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    preset_id: Mapped[str | None] = mapped_column(ForeignKey("preset.id", ondelete="SET NULL"), nullable=True)
    muted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Message(Base):
    __tablename__ = "message"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant')", name="role_known"),
        Index("ix_message_scene_id_position", "scene_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    scene_id: Mapped[str] = mapped_column(ForeignKey("scene.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(10))
    character_id: Mapped[str | None] = mapped_column(ForeignKey("character.id", ondelete="SET NULL"), nullable=True)
    active: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MessageAlternative(Base):
    __tablename__ = "message_alternative"
    __table_args__ = (
        UniqueConstraint("message_id", "idx"),
        CheckConstraint("status IN ('complete', 'streaming', 'interrupted', 'error')", name="status_known"),
        # One alternative per post-production job: a retried job finds the one it already wrote.
        Index("ix_message_alternative_job_id", "job_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="complete")
    finish_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    input_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Which model wrote it (config id or "premiere", model id, provider id): kept when the config goes.
    model_section: Mapped[str | None] = mapped_column(String(40), nullable=True)
    model_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Why the stream stopped early: an error kind and the guide's words for it (never provider text with secrets).
    error_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Made by a post-production job ("polish", "scheduled"; NULL for a reply the person asked for),
    # and which job, so a retry of that job does not write a second alternative.
    origin: Mapped[str | None] = mapped_column(String(16), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MessageImage(Base):
    """An image a person attached to their message (base64, checked and capped when it was sent).

    Its own table so scene views and message lists never read image bytes they do not show.
    """

    __tablename__ = "message_image"

    message_id: Mapped[str] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[str] = mapped_column(Text)  # base64
class SceneSummary(Base):
    """The summary of a scene so far (one per scene), made by the summary pass (services/passes.py).

    It covers the scene's messages up to ``through_position``; the prompt puts it in place of
    older turns that no longer fit the model's window (services/prompt.py).
    """

    __tablename__ = "scene_summary"

    scene_id: Mapped[str] = mapped_column(ForeignKey("scene.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    through_position: Mapped[int] = mapped_column(Integer)
    covered: Mapped[int] = mapped_column(Integer, default=0)  # how many messages it summarizes
    job_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
