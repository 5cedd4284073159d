"""The JSON shapes of characters, scenes and messages (SCENES_API contract), built from service views.

The same models describe the API in OpenAPI and encode the stream's non-delta events.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from rolecall.services.characters import CharacterView
from rolecall.services.generation_errors import GenerationError
from rolecall.services.presets import ScenePresetRef
from rolecall.services.scene_views import CastView, MessageView, ModelView, SceneSummary, SceneView


class CharacterOut(BaseModel):
    id: str
    name: str
    persona: str
    first_message: str
    example_dialogue: str
    avatar_color: str
    initials: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, c: CharacterView) -> CharacterOut:
        return cls(id=c.id, name=c.name, persona=c.persona, first_message=c.first_message,
                   example_dialogue=c.example_dialogue, avatar_color=c.avatar_color, initials=c.initials,
                   created_at=c.created_at.isoformat(), updated_at=c.updated_at.isoformat())


class CastOut(BaseModel):
    id: str
    name: str
    initials: str
    avatar_color: str

    @classmethod
    def of(cls, c: CastView) -> CastOut:
        return cls(id=c.id, name=c.name, initials=c.initials, avatar_color=c.avatar_color)


class ModelOut(BaseModel):
    section: str
    model_id: str
    config_label: str | None
    provider_name: str | None
    privacy_mode: Literal["e2e", "srv"] | None
    display_name: str

    @classmethod
    def of(cls, m: ModelView | None) -> ModelOut | None:
        if m is None:
            return None
        mode = m.privacy_mode if m.privacy_mode in ("e2e", "srv") else None
        return cls(section=m.section, model_id=m.model_id, config_label=m.config_label, provider_name=m.provider_name,
                   privacy_mode=mode, display_name=m.display_name)


class AltOut(BaseModel):
    index: int
    text: str
    status: str
    origin: str | None = None  # "polish" or "scheduled": made by a post-production pass


class UsageOut(BaseModel):
    input_tokens: int | None
    output_tokens: int | None


class MessageErrorOut(BaseModel):
    kind: str
    headline: str
    message: str
    config_id: str | None


class MessageOut(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    character_id: str | None
    text: str
    status: Literal["complete", "streaming", "interrupted", "error"]
    alternatives: list[AltOut]
    active: int
    model: ModelOut | None
    finish_reason: str | None
    usage: UsageOut | None
    error: MessageErrorOut | None
    created_at: str

    @classmethod
    def of(cls, m: MessageView) -> MessageOut:
        return cls(
            id=m.id, role=m.role, character_id=m.character_id, text=m.text, status=m.status,
            alternatives=[AltOut(index=a.index, text=a.text, status=a.status, origin=a.origin) for a in m.alternatives],
            active=m.active, model=ModelOut.of(m.model), finish_reason=m.finish_reason,
            usage=UsageOut(input_tokens=m.usage.input_tokens, output_tokens=m.usage.output_tokens) if m.usage else None,
            error=MessageErrorOut(kind=m.error.kind, headline=m.error.headline, message=m.error.message,
                                  config_id=m.error.config_id) if m.error else None,
            created_at=m.created_at.isoformat(),
        )


class ScenePresetRefOut(BaseModel):
    id: str
    name: str
    chosen: bool = Field(description="True when the scene picked it; False when it uses your default preset")


class SceneOut(BaseModel):
    id: str
    title: str
    description: str
    characters: list[CastOut]
    model: ModelOut | None
    preset: ScenePresetRefOut | None = Field(None, description="The preset (and fallback chain) the scene uses; "
                                          "None when you have no presets")
    messages: list[MessageOut]
    last_activity_at: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, s: SceneView, preset: ScenePresetRef | None = None) -> SceneOut:
        return cls(id=s.id, title=s.title, description=s.description, characters=[CastOut.of(c) for c in s.characters],
                   model=ModelOut.of(s.model),
                   preset=ScenePresetRefOut(id=preset.id, name=preset.name, chosen=preset.chosen) if preset else None,
                   messages=[MessageOut.of(m) for m in s.messages],
                   last_activity_at=s.last_activity_at.isoformat(), created_at=s.created_at.isoformat(),
                   updated_at=s.updated_at.isoformat())


class SceneSummaryOut(BaseModel):
    id: str
    title: str
    characters: list[CastOut]
    model: ModelOut | None
    last_activity_at: str
    last_message_preview: str

    @classmethod
    def of(cls, s: SceneSummary) -> SceneSummaryOut:
        return cls(id=s.id, title=s.title, characters=[CastOut.of(c) for c in s.characters], model=ModelOut.of(s.model),
                   last_activity_at=s.last_activity_at.isoformat(), last_message_preview=s.last_message_preview)


def message_json(m: MessageView) -> dict[str, Any]:
    return MessageOut.of(m).model_dump(mode="json")


def model_json(m: ModelView | None) -> dict[str, Any] | None:
    out = ModelOut.of(m)
    return out.model_dump(mode="json") if out else None


def error_json(error: GenerationError, reply: MessageView | None) -> dict[str, Any]:
    return {"kind": error.kind, "headline": error.headline, "message": error.message, "config_id": error.config_id,
            "retryable": error.retryable, "retry_after": error.retry_after,
            "reply": message_json(reply) if reply else None}
