"""Messages of a scene: reading a turn's context, editing, flipping alternatives, deleting. The few
writes a generation makes are in `turn_writes`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import Integer, ScalarSelect, Select, Table, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rolecall.services.errors import Conflict, Invalid, NotFound
from rolecall.services.scene_views import ConfigName, MessageView, message_view
from rolecall.services.scenes import NO_SUCH_SCENE, config_names, owned_scene
from rolecall.storage import direct
from rolecall.storage.db import Sessions
from rolecall.storage.scene_tables import Character, Message, MessageAlternative, MessageImage, Scene, SceneCharacter, SceneSummary
from rolecall.storage.tables import new_id

MAX_TEXT = 50_000
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # Anthropic's per-image limit; OpenAI takes up to 20 MB
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
NO_SUCH_MESSAGE = "No such message."
Action = Literal["send", "regenerate", "continue"]
# A turn reads the newest HISTORY_PAGE messages of its scene, and older ones only while a model's
# window could take more than those read (`older_history`, as many as `prompt.more_to_read` estimates;
# docs/decisions.md, "A turn reads the newest history").
HISTORY_PAGE = 200
# The tables themselves: a turn's reads are Core statements built once (`SceneReads`, `_NEWEST_Q`).
_SCENES, _CASTS, _CHARACTERS, _SUMMARIES, _MESSAGES, _ALTERNATIVES, _IMAGES = (
    cast(Table, m.__table__) for m in (Scene, SceneCharacter, Character, SceneSummary, Message, MessageAlternative,
                                       MessageImage))


@dataclass(frozen=True)
class Image:
    """An image attached to a person's message: media type and base64 data (checked by `check_image`)."""

    media_type: str
    data: str

    def __repr__(self) -> str:
        return f"Image({self.media_type}, {len(self.data)} base64 chars)"


class Line(NamedTuple):
    """One message of the history as the prompt sees it (the active alternative's text).

    A tuple, not a frozen dataclass: a long scene's turn makes one per message read (up to a
    thousand), and a frozen dataclass costs ~0.43 µs each to make where a tuple costs ~0.23."""

    role: str
    text: str
    image: Image | None = None


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    persona: str
    example_dialogue: str


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes: a new message, a new alternative of one, or the end of one (Continue)."""

    scene_id: str
    account_id: str
    message_id: str
    alt_index: int
    character_id: str | None = None
    mode: Literal["new", "alternative", "extend"] = "new"
    base_text: str = ""  # extend (Continue): the text the reply goes on from
    position: int = 0  # new: where the message goes in the scene


@dataclass(frozen=True)
class Turn:
    """Everything a generation needs from the database (`read_turn`)."""

    scene_id: str
    account_id: str
    title: str
    description: str
    character: Persona | None
    model_section: str | None
    model_id: str | None
    history: tuple[Line, ...]
    target: ReplyTarget
    next_position: int
    preset_id: str | None = None  # a group character's own preset (its chain), else the scene's applies
    summary: str = ""  # the scene's summary, when it covers only turns before the reply
    # The history holds the newest messages only: the older ones end at this position (`older_history`).
    older_than: int | None = None
    more: tuple[Any, ...] = ()  # the values of the columns a caller's `SceneReads` added to the scene's row
    names: Mapping[str, str] | None = None  # a group turn: the cast's names (how older lines are heard)


def _scene_read(speaker: ScalarSelect[Any]) -> Select[Any]:
    """The scene, its speaking cast member and its summary (one per scene) in one statement."""
    return (select(_SCENES.c.title, _SCENES.c.description, _SCENES.c.model_section, _SCENES.c.model_id,
                   _CHARACTERS.c.id, _CHARACTERS.c.name, _CHARACTERS.c.persona, _CHARACTERS.c.example_dialogue,
                   _SUMMARIES.c.text, _SUMMARIES.c.through_position)
            .select_from(_SCENES)
            .outerjoin(_CHARACTERS, _CHARACTERS.c.id == speaker)
            .outerjoin(_SUMMARIES, _SUMMARIES.c.scene_id == _SCENES.c.id)
            .where(_SCENES.c.id == bindparam("scene"), _SCENES.c.account_id == bindparam("account")))


_FIRST_CAST = select(_CASTS.c.character_id).where(_CASTS.c.scene_id == _SCENES.c.id).order_by(
    _CASTS.c.position).limit(1).scalar_subquery()
_SPEAKER = select(_CASTS.c.character_id).where(_CASTS.c.scene_id == _SCENES.c.id,
                                                _CASTS.c.character_id == bindparam("speaker")).scalar_subquery()
SCENE_COLUMNS = len(_scene_read(_FIRST_CAST).selected_columns)  # a `SceneReads`' own columns come after them


class SceneReads:
    """The scene statements of `read_turn` (its first cast member speaking, or one named), each
    widened by ``widen`` (columns added after the scene's own, outer joins on `Scene`): so a caller
    reads what hangs off the scene (its preset, its model's config) in the same statement, and finds
    it in `Turn.more`. Built once, at import."""

    def __init__(self, widen: Callable[[Select[Any]], Select[Any]] = lambda select: select) -> None:
        self.first_cast = direct.Query(widen(_scene_read(_FIRST_CAST)))
        self.spoken_by = direct.Query(widen(_scene_read(_SPEAKER)))


_PLAIN = SceneReads()
_OF_SCENE = (_MESSAGES.c.scene_id == bindparam("scene"), _MESSAGES.c.account_id == bindparam("account"))


def _history_read(*where: Any) -> Select[Any]:
    """The messages with their alternatives (and a person's image) and authors, oldest first."""
    return (select(_MESSAGES.c.id, _MESSAGES.c.role, _MESSAGES.c.active, _ALTERNATIVES.c.idx, _ALTERNATIVES.c.text,
                   _MESSAGES.c.position, _IMAGES.c.media_type, _IMAGES.c.data, _MESSAGES.c.character_id)
            .select_from(_MESSAGES)
            .join(_ALTERNATIVES, _ALTERNATIVES.c.message_id == _MESSAGES.c.id)
            .outerjoin(_IMAGES, _IMAGES.c.message_id == _MESSAGES.c.id)  # same round trip; user messages only
            .where(*_OF_SCENE, *where)
            .order_by(_MESSAGES.c.position, _MESSAGES.c.created_at, _ALTERNATIVES.c.idx))


def _page(*where: Any) -> direct.Query:
    """The newest ``page`` messages of those ``where`` picks, each row with the position the older
    ones end at (NULL when there are none)."""
    floor = (select(_MESSAGES.c.position).where(*_OF_SCENE, *where).order_by(_MESSAGES.c.position.desc())
             .limit(1).offset(bindparam("page", type_=Integer)).scalar_subquery())
    return direct.Query(_history_read(*where, _MESSAGES.c.position > func.coalesce(floor, -1))
                        .add_columns(floor.label("older_than")))


_OLDER = _MESSAGES.c.position <= bindparam("upto")
_NEWEST_Q, _OLDER_Q, _OLDER_PAGE_Q = _page(), direct.Query(_history_read(_OLDER)), _page(_OLDER)


async def read_turn(db: Sessions, account_id: str, scene_id: str, action: Action, message_id: str | None = None,
                    *, character_id: str | None = None, reads: SceneReads = _PLAIN) -> Turn:
    """The context of a turn: scene, first cast member, the history the reply follows, and the target.

    ``character_id`` (a group scene's turn): that cast member speaks, with its own preset if it has
    one, and the other characters' lines reach the prompt as "Name: text" (docs/group-scenes.md).
    Regenerate and Continue in a group scene speak as the reply's author, when still in the cast.
    The history is the newest `HISTORY_PAGE` messages, and the reply to regenerate or continue
    when it is older; `older_history` reads the rest as a window takes it (a group turn's heard as
    its speaker hears them). Two statements (the scene with its speaker and summary, and what
    ``reads`` adds; the history), built once, run together (``db``: read sessions; no snapshot is
    shared, as none was: they ran without a transaction).
    """
    if character_id is None and action != "send" and message_id is not None:
        async with db() as s:
            character_id = await _group_author(s, scene_id, message_id)
    values = {"scene": scene_id, "account": account_id, "speaker": character_id, "page": HISTORY_PAGE}
    scene, rows = await direct.together(
        db, direct.first(db, reads.first_cast if character_id is None else reads.spoken_by, values),
        direct.rows(db, _NEWEST_Q, values))
    if scene is None or (character_id is not None and scene[4] is None):
        raise NotFound(NO_SUCH_SCENE)
    older_than = rows[0].older_than if rows else None
    if older_than is not None and action != "send" and all(row[0] != message_id for row in rows):
        rows = [*await direct.rows(db, _OLDER_Q, {**values, "upto": older_than}), *rows]  # an older reply
        older_than = None
    group = None
    if character_id is not None:
        async with db() as s:
            group = await _group_context(s, scene_id, character_id)
    read = _Read(rows)
    order, positions, shown, next_position = read.order, read.positions, read.shown, read.next_position
    title, description, model_section, model_id, speaker, name, persona_text, example, summary, summary_end = (
        scene[:SCENE_COLUMNS])
    target = ReplyTarget(scene_id, account_id, new_id(), 0, speaker, position=next_position)
    upto = len(order)
    if action != "send":
        if message_id not in shown:
            raise NotFound(NO_SUCH_MESSAGE)
        assert message_id is not None
        if shown[message_id].role != "assistant":
            raise Invalid("Only a character's reply can be regenerated or continued.", field="message_id")
        where = order.index(message_id)
        if action == "regenerate":
            upto = where
            target = ReplyTarget(scene_id, account_id, message_id, read.alt_count[message_id], speaker, "alternative")
        else:
            if where != len(order) - 1:
                raise Invalid("Only the last reply can be continued.", field="message_id")
            active = next(a for m, _, a, *_ in rows if m == message_id)
            target = ReplyTarget(scene_id, account_id, message_id, active, speaker, "extend", shown[message_id].text)
    if group is not None:
        shown = read.heard_by(speaker, group.names)
    history = read.lines(order[:upto], shown)
    persona = Persona(speaker, name, persona_text, example) if speaker else None
    # A summary that reaches into the reply being regenerated (or past it) would tell the model
    # what it is about to write: it is left out then.
    before = positions[order[upto]] if upto < len(order) else next_position
    summary_text = summary if summary is not None and summary_end is not None and summary_end < before else ""
    turn = Turn(scene_id, account_id, title, description, persona, model_section, model_id,
                history, target, next_position, summary=summary_text, older_than=older_than,
                more=tuple(scene[SCENE_COLUMNS:]), names=group.names if group is not None else None)
    if group is not None and group.preset_id:  # the character's own chain replaces the scene's
        turn = replace(turn, model_section=None, model_id=None, preset_id=group.preset_id)
    return turn


async def older_history(db: Sessions, turn: Turn, upto: int, page: int) -> tuple[tuple[Line, ...], int | None]:
    """The lines of the ``page`` messages before those read so far (ending at position ``upto``,
    `Turn.older_than` for the first such read), and where the ones before them end (None: no more)."""
    rows = await direct.rows(db, _OLDER_PAGE_Q, {"scene": turn.scene_id, "account": turn.account_id, "upto": upto,
                                                "page": page})
    read = _Read(rows)
    shown = read.shown if turn.names is None else read.heard_by(turn.target.character_id, turn.names)
    return read.lines(read.order, shown), rows[0].older_than if rows else None


class _Read:
    """History rows (oldest first, a row per alternative) as messages: each one's active line."""

    def __init__(self, rows: list[Any]) -> None:
        # Local names and one branch per row: a long scene's turn runs this loop once per message read.
        order: list[str] = []
        positions: dict[str, int] = {}
        shown: dict[str, Line] = {}  # the active alternative's line, else the first one's
        alt_count: dict[str, int] = {}
        authors: dict[str, str | None] = {}  # message id -> the character who wrote it
        for mid, role, active, idx, text, position, media_type, data, author, *_ in rows:
            count = alt_count.get(mid)
            if count is None:  # the message's first row
                order.append(mid)
                positions[mid] = position
                authors[mid] = author
                alt_count[mid] = idx + 1
                shown[mid] = Line(role, text, Image(media_type, data) if media_type else None)
                continue
            alt_count[mid] = max(count, idx + 1)
            if idx == active:
                shown[mid] = Line(role, text, Image(media_type, data) if media_type else None)
        self.order, self.positions, self.shown, self.alt_count, self.authors = order, positions, shown, alt_count, authors
        self.next_position = max(positions.values(), default=-1) + 1

    def heard_by(self, speaker: str | None, names: Mapping[str, str]) -> dict[str, Line]:
        """The messages' lines as a group scene's ``speaker`` hears them (`_as_heard`)."""
        return {m: _as_heard(line, self.authors.get(m), speaker, names) for m, line in self.shown.items()}

    @staticmethod
    def lines(order: list[str], shown: Mapping[str, Line]) -> tuple[Line, ...]:
        """The prompt's lines of these messages: an empty one (no text, no image) is left out."""
        return tuple(shown[m] for m in order if shown[m].text or shown[m].image)


@dataclass(frozen=True)
class _Group:
    names: dict[str, str]  # character id -> name
    preset_id: str | None  # the speaking character's own preset


async def _group_context(s: AsyncSession, scene_id: str, character_id: str) -> _Group:
    cast = (await s.execute(select(Character.id, Character.name, SceneCharacter.preset_id)
                            .join(SceneCharacter, SceneCharacter.character_id == Character.id)
                            .where(SceneCharacter.scene_id == scene_id))).all()
    preset = next((p for c, _, p in cast if c == character_id), None)
    return _Group({c: n for c, n, _ in cast}, preset)


async def _group_author(s: AsyncSession, scene_id: str, message_id: str) -> str | None:
    """The author of a reply in a group scene (two or more cast members) while still in its cast."""
    cast = (await s.execute(select(SceneCharacter.character_id).where(SceneCharacter.scene_id == scene_id))).scalars().all()
    if len(cast) < 2:
        return None
    author = await s.scalar(select(Message.character_id).where(Message.id == message_id, Message.scene_id == scene_id))
    return author if author in cast else None


def _as_heard(line: Line, author: str | None, speaker: str | None, names: Mapping[str, str]) -> Line:
    """Another character's reply, as the speaking character hears it: a named line, not its own words."""
    if line.role != "assistant" or author == speaker or not line.text:
        return line
    return Line("user", f"{names.get(author or '', 'Someone')}: {line.text}")


def check_image(media_type: str, data: str) -> Image:
    """An attached image: a known type, valid base64, at most ``MAX_IMAGE_BYTES`` once decoded."""
    if media_type not in IMAGE_TYPES:
        raise Invalid(f"Attach a {', '.join(t.removeprefix('image/').upper() for t in IMAGE_TYPES)} image.",
                      field="image.media_type")
    if len(data) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise Invalid(f"Images can be at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB.", field="image.data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("The image is not valid base64.", field="image.data") from None
    if not raw or len(raw) > MAX_IMAGE_BYTES:
        raise Invalid(f"Images can be at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB.", field="image.data")
    return Image(media_type, data)


# --- editing ---------------------------------------------------------------------------------

def check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid("Write something first.", field="text")
    if len(text) > MAX_TEXT:
        raise Invalid(f"A message can be at most {MAX_TEXT:,} characters.", field="text")
    return text


async def _owned_message(s: AsyncSession, account_id: str, scene_id: str, message_id: str) -> Message:
    await owned_scene(s, account_id, scene_id)
    message = await s.scalar(select(Message).where(Message.id == message_id, Message.scene_id == scene_id,
                                                   Message.account_id == account_id))
    if message is None:
        raise NotFound(NO_SUCH_MESSAGE)
    return message


async def view(s: AsyncSession, account_id: str, message_id: str,
                names: Mapping[str, ConfigName] | None = None) -> MessageView:
    message = await s.get_one(Message, message_id)
    alts = list(await s.scalars(select(MessageAlternative).where(MessageAlternative.message_id == message_id)))
    return message_view(message, alts, names if names is not None else await config_names(s, account_id))


async def edit_message(db: Sessions, account_id: str, scene_id: str, message_id: str,
                       text: str | None = None, active: int | None = None) -> MessageView:
    """Edit the shown text (``text``) and/or show another alternative (``active``)."""
    async with db.begin() as s:
        message = await _owned_message(s, account_id, scene_id, message_id)
        if active is not None:
            exists = await s.scalar(select(MessageAlternative.id).where(
                MessageAlternative.message_id == message_id, MessageAlternative.idx == active))
            if exists is None:
                raise Invalid("This message has no such alternative.", field="active")
            message.active = active
        if text is not None:
            shown = await s.scalar(select(MessageAlternative).where(
                MessageAlternative.message_id == message_id, MessageAlternative.idx == message.active))
            assert shown is not None
            if shown.status == "streaming":
                raise Conflict("This reply is still being written; stop it first.", field="text")
            shown.text = check_text(text)
        await s.flush()
        return await view(s, account_id, message_id)


async def delete_message(db: Sessions, account_id: str, scene_id: str, message_id: str) -> None:
    async with db.begin() as s:
        await _owned_message(s, account_id, scene_id, message_id)
        await s.execute(delete(Message).where(Message.id == message_id))



async def get_message(db: Sessions, account_id: str, message_id: str) -> MessageView:
    """One of the account's messages as the page shows it (a group turn that just finished)."""
    async with db() as s:
        found = await s.scalar(select(Message.id).where(Message.id == message_id, Message.account_id == account_id))
        if found is None:
            raise NotFound(NO_SUCH_MESSAGE)
        return await view(s, account_id, message_id)
