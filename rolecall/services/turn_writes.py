"""The few writes a generation makes, never one per chunk:

1. the person's message, before the upstream call (`add_user_message`);
2. the reply row, once the first token has gone out (`begin_reply`, status `streaming`);
3. the reply's final text and status when the stream ends (`finish_reply`: `complete`, or
   `interrupted` with the partial text).

A process that dies between the last two leaves `streaming` rows; `recover_streaming` marks them
`interrupted` at start-up so the scene reads consistently. The writes of a new message (the
person's, a new reply) run straight on the driver (`storage/direct.py`), each as one transaction:
they are on every turn's path, the person's message before the first token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, func, insert, select, update

from rolecall.services.messages import Image, ReplyTarget, check_text, view
from rolecall.services.scene_views import ConfigName, MessageView, message_view
from rolecall.storage import direct
from rolecall.storage.db import Sessions, rowcount
from rolecall.storage.scene_tables import Message, MessageAlternative, MessageImage, Scene
from rolecall.storage.tables import new_id, utcnow

_SCENES, _MESSAGES, _ALTERNATIVES, _IMAGES = (cast(Table, m.__table__)
                                              for m in (Scene, Message, MessageAlternative, MessageImage))
Step = tuple[direct.Query, dict[str, Any]]


def _insert(table: Table, names: tuple[str, ...]) -> direct.Query:
    """An INSERT of these columns, each from the bind parameter named after it with a trailing "_"."""
    return direct.Query(insert(table).values({name: bindparam(f"{name}_", type_=table.c[name].type) for name in names}))


# Built once (Core statements with bind parameters), run as `direct.transaction` steps.
_MESSAGE = _insert(_MESSAGES, ("id", "scene_id", "account_id", "position", "role", "character_id", "active",
                               "created_at", "updated_at"))
_ALT_FIELDS = ("text", "status", "finish_reason", "input_tokens", "output_tokens", "error_kind", "error_message")
_REPLY_FIELDS = ("status", "model_section", "model_id", "provider_id", "error_kind", "error_message")
_TEXT = _insert(_ALTERNATIVES, ("message_id", "idx", "text", "status", "created_at", "updated_at"))
_REPLY = _insert(_ALTERNATIVES, ("message_id", "idx", "text", "created_at", "updated_at", *_REPLY_FIELDS))
_IMAGE = _insert(_IMAGES, ("message_id", "media_type", "data"))
_TOUCH_SCENE = direct.Query(update(_SCENES).where(_SCENES.c.id == bindparam("scene")).values(
    last_activity_at=bindparam("now"), updated_at=bindparam("now")))
_LAST_POSITION = direct.Query(select(func.max(_MESSAGES.c.position).label("last"))
                              .where(_MESSAGES.c.scene_id == bindparam("scene")))
_FINISH = direct.Query(update(_ALTERNATIVES).where(
    (_ALTERNATIVES.c.message_id == bindparam("message")) & (_ALTERNATIVES.c.idx == bindparam("index"))
).values({**{name: bindparam(f"v_{name}") for name in _ALT_FIELDS}, "updated_at": bindparam("now")}))


@dataclass(frozen=True, slots=True)
class _Written:
    """A new message as just written: what `message_view` reads, without making an ORM object."""

    id: str
    role: str
    created_at: datetime
    character_id: str | None = None
    active: int = 0


@dataclass(frozen=True, slots=True)
class _WrittenText:
    """Its one alternative, as just written."""

    text: str
    status: str
    idx: int = 0
    origin: str | None = None
    model_section: str | None = None
    model_id: str | None = None
    provider_id: str | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error_kind: str | None = None
    error_message: str | None = None


def _message(message: _Written, scene_id: str, account_id: str, position: int) -> Step:
    return (_MESSAGE, {"id_": message.id, "scene_id_": scene_id, "account_id_": account_id, "position_": position,
                       "role_": message.role, "character_id_": message.character_id, "active_": 0,
                       "created_at_": message.created_at, "updated_at_": message.created_at})


async def add_user_message(db: Sessions, account_id: str, scene_id: str, text: str,
                           position: int | None = None, image: Image | None = None) -> MessageView:
    """Store the person's message (at ``position``, from the turn just read; else after the last one),
    with its image when one is attached (then the text may be empty)."""
    text = check_text(text) if image is None or text.strip() else ""
    now = utcnow()
    if position is None:  # read before the transaction, as SQLite's deferred one always did
        last = await direct.first(db, _LAST_POSITION, {"scene": scene_id})
        position = 0 if last is None or last.last is None else last.last + 1
    message = _Written(new_id(), "user", now)
    steps = [_message(message, scene_id, account_id, position),
             (_TEXT, {"message_id_": message.id, "idx_": 0, "text_": text, "status_": "complete", "created_at_": now,
                      "updated_at_": now})]
    if image is not None:
        steps.append((_IMAGE, {"message_id_": message.id, "media_type_": image.media_type, "data_": image.data}))
    steps.append((_TOUCH_SCENE, {"scene": scene_id, "now": now}))
    await direct.transaction(db, steps)  # a person waits for this write
    return message_view(message, [_WrittenText(text, "complete")], {})


@dataclass(frozen=True)
class Made:
    """Who made a reply: (section, model id, provider id)."""

    section: str
    model_id: str
    provider_id: str | None


async def begin_reply(db: Sessions, target: ReplyTarget, made: Made) -> datetime:
    """Record that a reply is streaming (after its first token has gone out); returns its time."""
    fields = {"status": "streaming", "model_section": made.section, "model_id": made.model_id,
              "provider_id": made.provider_id, "error_kind": None, "error_message": None}
    now = utcnow()
    if target.mode == "new":
        message = _Written(target.message_id, "assistant", now, target.character_id)
        await direct.transaction(db, [_message(message, target.scene_id, target.account_id, target.position), (_REPLY, {
            "message_id_": target.message_id, "idx_": 0, "text_": "", "created_at_": now, "updated_at_": now,
            **{f"{name}_": value for name, value in fields.items()}})])
        return now
    async with db.begin() as s:
        if target.mode == "extend":  # Continue: the same alternative goes on
            await s.execute(update(MessageAlternative).where(
                MessageAlternative.message_id == target.message_id, MessageAlternative.idx == target.alt_index
            ).values(**fields))
        else:  # Regenerate: a new alternative, shown at once; the earlier ones stay
            s.add(MessageAlternative(message_id=target.message_id, idx=target.alt_index, text="", **fields))
            await s.execute(update(Message).where(Message.id == target.message_id).values(active=target.alt_index))
    return now


@dataclass(frozen=True)
class Outcome:
    text: str
    status: str
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error_kind: str | None = None
    error_message: str | None = None


async def finish_reply(db: Sessions, target: ReplyTarget, outcome: Outcome, made: Made,
                       names: Mapping[str, ConfigName], started_at: datetime) -> MessageView:
    """Store a reply's final text and status; returns the message as the page shows it.

    A new message's view is built from what was just written (no read back); an alternative or a
    continued reply is read back, since its other alternatives are part of the view.
    """
    alt = _WrittenText(target.base_text + outcome.text, outcome.status, model_section=made.section,
                       model_id=made.model_id, provider_id=made.provider_id, finish_reason=outcome.finish_reason,
                       input_tokens=outcome.input_tokens, output_tokens=outcome.output_tokens,
                       error_kind=outcome.error_kind, error_message=outcome.error_message)
    now = utcnow()
    steps: list[Step] = [
        (_FINISH, {"message": target.message_id, "index": target.alt_index, "now": now,
                   **{f"v_{name}": getattr(alt, name) for name in _ALT_FIELDS}}),
        (_TOUCH_SCENE, {"scene": target.scene_id, "now": now})]
    if target.mode != "new":
        async with db.begin() as s:
            for query, params in steps:
                await s.execute(cast(Executable, query.statement), params)
            return await view(s, target.account_id, target.message_id, names)
    await direct.transaction(db, steps)
    return message_view(_Written(target.message_id, "assistant", started_at, target.character_id), [alt], names)


async def recover_streaming(db: Sessions) -> int:
    """Replies left `streaming` by a process that stopped: they are `interrupted`, with what was kept."""
    async with db.begin() as s:
        result = await s.execute(update(MessageAlternative).where(MessageAlternative.status == "streaming")
                                 .values(status="interrupted"))
    return rowcount(result)
