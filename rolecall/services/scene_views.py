"""What the scene services return: read-only views, never ORM rows.

`ModelView` names a model the way the AI wing shows it: its section (a provider config id or
"premiere"), the config's label and provider, privacy mode, and a display name from the curated
facts when RoleCall knows the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rolecall.providers import facts, get
from rolecall.services.characters import initials
from rolecall.services.generation_errors import headline_for
from rolecall.storage.scene_tables import Character

PREMIERE = "premiere"
PREMIERE_NAME = "Premiere Theater"


@dataclass(frozen=True)
class ConfigName:
    """What a model view needs to know about the config behind a section."""

    label: str
    provider_id: str
    privacy_mode: str


@dataclass(frozen=True)
class ModelView:
    section: str
    model_id: str
    config_label: str | None
    provider_name: str | None
    privacy_mode: str | None
    display_name: str


def model_view(section: str | None, model_id: str | None, configs: Mapping[str, ConfigName],
               provider_id: str | None = None) -> ModelView | None:
    """The view of (section, model id); a deleted config keeps the provider recorded with the message."""
    if not section or not model_id:
        return None
    fact = facts.lookup(model_id)
    display = (fact.name if fact and fact.name else None) or model_id
    if section == PREMIERE:
        return ModelView(section, model_id, PREMIERE_NAME, PREMIERE_NAME, None, display)
    config = configs.get(section)
    pid = config.provider_id if config else provider_id
    try:
        provider_name = get(pid).name if pid else None
    except KeyError:
        provider_name = None
    return ModelView(section, model_id, config.label if config else None, provider_name,
                     config.privacy_mode if config else None, display)


@dataclass(frozen=True)
class CastView:
    id: str
    name: str
    initials: str
    avatar_color: str

    @classmethod
    def of(cls, row: Character) -> CastView:
        return cls(row.id, row.name, initials(row.name), row.avatar_color)


@dataclass(frozen=True)
class AltView:
    index: int
    text: str
    status: str
    origin: str | None = None  # "polish" or "scheduled": made by a post-production job


@dataclass(frozen=True)
class ErrorView:
    kind: str
    headline: str
    message: str
    config_id: str | None


@dataclass(frozen=True)
class UsageView:
    input_tokens: int | None
    output_tokens: int | None


@dataclass(frozen=True)
class MessageView:
    id: str
    role: str
    character_id: str | None
    text: str
    status: str
    alternatives: tuple[AltView, ...]
    active: int
    model: ModelView | None
    finish_reason: str | None
    usage: UsageView | None
    error: ErrorView | None
    created_at: datetime


class MessageRow(Protocol):
    """What `message_view` reads of a message: a `Message` row, or one just written (`turn_writes`)."""

    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def character_id(self) -> str | None: ...
    @property
    def active(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...


class AltRow(Protocol):
    """What `message_view` reads of an alternative: a `MessageAlternative` row, or one just written."""

    @property
    def idx(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def origin(self) -> str | None: ...
    @property
    def model_section(self) -> str | None: ...
    @property
    def model_id(self) -> str | None: ...
    @property
    def provider_id(self) -> str | None: ...
    @property
    def finish_reason(self) -> str | None: ...
    @property
    def input_tokens(self) -> int | None: ...
    @property
    def output_tokens(self) -> int | None: ...
    @property
    def error_kind(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...


def message_view(row: MessageRow, alts: Sequence[AltRow], configs: Mapping[str, ConfigName]) -> MessageView:
    """The view of a message and its alternatives (sorted by index); the active one speaks for it."""
    alts = sorted(alts, key=lambda a: a.idx)
    by_index = {a.idx: a for a in alts}
    shown = by_index.get(row.active) or alts[-1]
    usage = None
    if shown.input_tokens is not None or shown.output_tokens is not None:
        usage = UsageView(shown.input_tokens, shown.output_tokens)
    error = None
    if shown.error_kind:
        config_id = shown.model_section if shown.model_section not in (None, PREMIERE) else None
        error = ErrorView(shown.error_kind, headline_for(shown.error_kind), shown.error_message or "", config_id)
    return MessageView(
        id=row.id, role=row.role, character_id=row.character_id, text=shown.text, status=shown.status,
        alternatives=tuple(AltView(a.idx, a.text, a.status, a.origin) for a in alts), active=shown.idx,
        model=model_view(shown.model_section, shown.model_id, configs, shown.provider_id),
        finish_reason=shown.finish_reason, usage=usage, error=error, created_at=row.created_at,
    )


@dataclass(frozen=True)
class SceneView:
    id: str
    title: str
    description: str
    characters: tuple[CastView, ...]
    model: ModelView | None
    messages: tuple[MessageView, ...]
    last_activity_at: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SceneSummary:
    id: str
    title: str
    description: str
    characters: tuple[CastView, ...]
    model: ModelView | None
    last_activity_at: datetime
    last_message_preview: str
    created_at: datetime
    updated_at: datetime
