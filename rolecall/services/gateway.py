"""Generation: a turn of a scene, streamed from the first model of its chain that answers
(docs/architecture.md, "Generation path").

```python
turn = await gateway.prepare(res, account_id, scene_id, "send", text="Hello")   # 404s raise here
async for event in gateway.run(res, turn, HandedKey(...) or ServerKey(), background=False):
    ...  # StreamEvent("user" | "skipped" | "start" | "delta" | "done" | "error", data)
```

The chain is the scene's own model (the AI wing) followed by its preset's API Options slots
(`fallback.plan`); `chain_run.ChainRun` walks it: a slot that cannot take the turn, or that fails
before its first token, is logged, announced as ``skipped`` ({position, label, model, kind,
reason}) and the next one is tried, so the person sees one reply. ``background=True`` (worker
jobs) skips End-to-End configs: the server cannot open their keys. The preset's samplers and
system prompt template apply to every slot; the prompt is fitted to each model's window.

Keys: a `HandedKey` is the key of the scene's own model's End-to-End config (what the page
unlocks), or, with no scene model, of the chain's first End-to-End config; a mapping
``{config id: HandedKey}`` hands several over. They live only in this call's frames: never
stored, logged, cached or queued. When no slot can run at all (no model, no key, nothing fits)
the turn is refused before anything is written, so the page can fix it and send the same text.

Writes: the person's message just before the first upstream call; the reply row after its first
token has gone out; the final text when the stream ends. No write and no log line per chunk. If
the stream breaks, or the client goes away (Stop), or the server stops mid-stream, the partial
text is kept with status `interrupted` (no other model's text is spliced in); Retry regenerates
it, which walks the chain again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import anyio
from sqlalchemy import FromClause, Select, Table, and_, bindparam, or_, select

from rolecall.providers import ChatMessage, ChatRequest, takes_images
from rolecall.services import chain_open, chain_run, connections, fallback, messages, model_facts, presets, turn_writes
from rolecall.services.errors import Invalid
from rolecall.services.generation_errors import GenerationError, refusal
from rolecall.services.messages import HISTORY_PAGE, Action, ReplyTarget, Turn
from rolecall.services.prompt import Budget, ContextTooLong, build, has_images, more_to_read, system_text
from rolecall.services.resources import Resources
from rolecall.services.scene_views import PREMIERE, ConfigName, MessageView, ModelView, model_view
from rolecall.services.turn_writes import Made, Outcome
from rolecall.storage import direct
from rolecall.storage.db import Sessions
from rolecall.storage.scene_tables import Scene
from rolecall.storage.tables import Account, Preset, ProviderConfig, ScenePreset

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event for the page: ``delta`` carries the text piece as ``data``; the others a view or dict."""

    name: str
    data: Any


@dataclass(frozen=True)
class PresetUse:
    """The scene's preset as a generation uses it (all empty when the account has no presets)."""

    id: str | None = None
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    system_prompt: str = ""
    user_name: str = ""


@dataclass(frozen=True)
class Prepared:
    """The turn and what its walk is planned from, read before it: the preset, its chain, and
    the config rows the chain and the scene's model name (opened later without a query)."""

    turn: Turn
    action: Action
    text: str | None
    image: messages.Image | None = None
    preset: PresetUse = PresetUse()
    slots: tuple[presets.Slot, ...] = ()
    configs: Mapping[str, connections.StoredRow] = dataclasses.field(default_factory=dict)


async def prepare(res: Resources, account_id: str, scene_id: str, action: Action, *,
                  text: str | None = None, message_id: str | None = None,
                  image: messages.Image | None = None, character_id: str | None = None) -> Prepared:
    """Read the turn (raises `NotFound` for another account's scene or message, `Invalid` for bad input).
    ``image`` (checked with `messages.check_image`) goes with the person's new message;
    ``character_id``: who speaks (a group scene's turn), else the first cast member."""
    if text is not None and text.strip():
        text = messages.check_text(text)
    if image is not None and action != "send":
        raise Invalid("An image goes with a new message.", field="image")
    configs: dict[str, connections.StoredRow] = {}
    # Everything before the walk: three reads for a solo scene (the scene with its preset and its own
    # config; its history; that preset's chain), run together (`direct.together`: at once on
    # PostgreSQL), each straight on the driver (`storage/direct.py`). A group character with a
    # preset of its own reads that one and its chain after.
    reads = res.reads
    values = {"scene": scene_id, "account": account_id}
    turn, slots = await direct.together(
        reads, messages.read_turn(reads, account_id, scene_id, action, message_id, character_id=character_id,
                                  reads=_WIDE_SCENE),
        presets.chain_read(reads, _SCENE_CHAIN, values, configs))
    preset, scene_config = _preset_use(turn.more[:_PRESET_WIDTH]), _scene_config(turn.more[_PRESET_WIDTH:])
    if turn.preset_id:
        preset, configs = await preset_use(reads, turn), {}
        slots = await presets.chain_read(reads, _OWN_CHAIN, {"preset": preset.id, "account": account_id},
                                         configs) if preset.id else []
    section = turn.model_section
    if section and section != PREMIERE and section not in configs and scene_config is not None:
        configs[section] = scene_config
    return Prepared(turn, action, text or ("" if image is not None else None), image, preset, tuple(slots), configs)


def _preset_read(chosen: Any, *columns: Any) -> Select[Any]:
    """The preset ``chosen`` names, else the account's default (its ``columns``)."""
    return (select(*columns)
            .where(Preset.account_id == bindparam("account"), or_(Preset.id == chosen, Preset.is_default))
            .order_by((Preset.id == chosen).desc()).limit(1))


def _preset_columns(presets: FromClause) -> tuple[Any, ...]:
    """What a generation uses of a preset (`PresetUse`), with the account's name, from ``presets``."""
    return (presets.c.id, presets.c.settings, presets.c.system_prompt,
            select(Account.name).where(Account.id == presets.c.account_id).scalar_subquery())


# Built once (with bind parameters), run straight on the driver (`storage/direct.py`).
_PRESETS = cast(Table, Preset.__table__)
_PRESET_COLUMNS = _preset_columns(_PRESETS)
_SCENE_CHOICE = select(ScenePreset.preset_id).where(
    ScenePreset.scene_id == bindparam("scene"), ScenePreset.account_id == bindparam("account")).scalar_subquery()
_OWN_PRESET = direct.Query(_preset_read(bindparam("preset"), *_PRESET_COLUMNS))
_SCENE_PRESET = direct.Query(_preset_read(_SCENE_CHOICE, *_PRESET_COLUMNS))
# The id of the preset a scene uses (as `_SCENE_PRESET` picks it); its chain, read beside the scene;
# a character's own preset's chain.
_SCENE_PICK = _preset_read(_SCENE_CHOICE, Preset.id).scalar_subquery()
_SCENE_CHAIN = presets.chain_query(_SCENE_PICK)
_OWN_CHAIN = presets.chain_query(bindparam("preset"))


# The scene's row widened (`messages.SceneReads`) by its preset (its choice, else the account's
# default; `_PRESET_COLUMNS` of an alias, so the pick's own subquery keeps its table) and by its own
# config (the AI wing's choice) as opening it reads it: one statement where these were three.
_CHOSEN = _PRESETS.alias("chosen_preset")
_CHOSEN_COLUMNS = _preset_columns(_CHOSEN)
_PRESET_WIDTH = len(_CHOSEN_COLUMNS)
_CONFIGS = cast(Table, ProviderConfig.__table__)


def _widen(scene: Select[Any]) -> Select[Any]:
    return (scene.add_columns(*_CHOSEN_COLUMNS, *connections.COLUMNS)
            .outerjoin(_CHOSEN, _CHOSEN.c.id == _SCENE_PICK)
            .outerjoin(_CONFIGS, and_(_CONFIGS.c.id == Scene.model_section, _CONFIGS.c.account_id == Scene.account_id)))


_WIDE_SCENE = messages.SceneReads(_widen)


def _scene_config(columns: tuple[Any, ...]) -> connections.StoredRow | None:
    return connections.ColumnsRow(*columns) if columns[0] is not None else None


async def preset_use(db: Sessions, turn: Turn) -> PresetUse:
    """A group character's own preset (docs/group-scenes.md), else the scene's own, else the account's
    default: one query (with the account's name)."""
    query = _OWN_PRESET if turn.preset_id else _SCENE_PRESET
    return await _preset(db, query, {"account": turn.account_id, "preset": turn.preset_id, "scene": turn.scene_id})


async def _preset(db: Sessions, query: direct.Query, values: Mapping[str, Any]) -> PresetUse:
    return _preset_use(await direct.first(db, query, values) or (None,))


def _preset_use(columns: tuple[Any, ...]) -> PresetUse:
    """The preset as `_PRESET_COLUMNS` (or `_CHOSEN_COLUMNS` of the widened scene's row) hold it; none: (None, ...)."""
    if columns[0] is None:
        return PresetUse()
    preset_id, values, template, user_name = columns
    return PresetUse(preset_id, dict(values or {}), template or "", user_name or "")


def system_prompt(turn: Turn, preset: PresetUse) -> str:
    """The character and scene text, after the preset's template (placeholders filled in)."""
    own = system_text(turn.character, turn.title, turn.description)
    if not preset.system_prompt.strip():
        return own
    char = turn.character
    rendered = presets.render_prompt(preset.system_prompt, {
        "char": char.name if char else "", "persona": char.persona if char else "", "user": preset.user_name,
        "scene": turn.title})
    return f"{rendered.strip()}\n\n{own}"


def _keys(key: connections.Key | chain_open.Keys, turn: Turn) -> connections.Key | chain_open.Keys:
    if isinstance(key, connections.HandedKey) and turn.model_section and turn.model_section != PREMIERE:
        return {turn.model_section: key}  # the page unlocks the key of the scene's own model
    return key


async def run(res: Resources, prepared: Prepared, key: connections.Key | chain_open.Keys, *,
              background: bool = False) -> AsyncGenerator[StreamEvent, None]:
    """The turn's events. Never raises for a failed generation: it ends with an ``error`` event."""
    turn, preset = prepared.turn, prepared.preset
    scene_model = (turn.model_section, turn.model_id) if turn.model_section and turn.model_id else None
    walk = await fallback.plan(res, turn.account_id, scene_model=scene_model, preset_id=preset.id,
                               background=background, slots=prepared.slots, configs=prepared.configs)
    if not walk:
        yield _error(refusal("no_model"))
        return
    new = (messages.Line("user", prepared.text, prepared.image),) if prepared.text is not None else ()
    history = History(res.reads, turn, new)
    system = system_prompt(turn, preset)
    reply_cap = preset.settings.get("max_tokens")

    async def request_for(target: chain_run.Target) -> ChatRequest:
        facts = target.facts
        budget = Budget.for_model(facts.context_window, facts.max_output, reply_cap)
        try:
            prompt = build(system, await history.for_window(system, budget), budget, turn.summary)
        except ContextTooLong as exc:
            error = _too_long(exc, model_view(target.entry.section, target.model_id, {}))
            raise chain_run.Unfit("context_too_long", f"The turn needs about {exc.needed:,} tokens; this model "
                                  f"takes {exc.window:,}", error) from None
        if has_images(prompt):
            prompt = _fit_images(prompt, target)
        return ChatRequest(prompt, model=target.model_id, max_tokens=budget.reply)

    ctx = chain_run.Context(turn.account_id, turn.scene_id, preset.id, preset.settings)
    walker = chain_run.ChainRun(res, ctx, walk, request_for, _keys(key, turn), background=background,
                                loaded=prepared.configs)
    target = turn.target
    reply: Reply | None = None
    parts: list[str] = []
    settled = False
    async with aclosing(walker.events()) as events:
        try:
            async for event in events:
                if event.name == "delta":
                    parts.append(event.data)
                    yield StreamEvent("delta", event.data)
                    if reply is not None and reply.started_at is None:  # after the first token went out
                        await reply.begin(res.db)
                elif event.name == "skipped":
                    yield StreamEvent("skipped", event.data)
                elif event.name == "calling":
                    if prepared.text is not None and walker.calls == 0:  # stored once, before the first call
                        user = await turn_writes.add_user_message(res.db, turn.account_id, turn.scene_id, prepared.text,
                                                               turn.next_position, prepared.image)
                        target = dataclasses.replace(target, position=turn.next_position + 1)
                        yield StreamEvent("user", user)
                elif event.name == "start":
                    hop: chain_open.Hop = event.data
                    names = ({hop.config_id: ConfigName(hop.label, hop.provider.id, hop.privacy_mode or "")}
                             if hop.config_id else {})
                    made = Made(hop.section, hop.entry.model_id, hop.provider.id if hop.config_id else None)
                    reply = Reply(target, made, names)
                    yield StreamEvent("start", {"message_id": target.message_id, "alternative": target.alt_index,
                                                "model": model_view(hop.section, hop.entry.model_id, names)})
                elif event.name == "done":
                    finished: chain_run.Finished = event.data
                    assert reply is not None
                    used = finished.usage
                    outcome = Outcome(finished.text, "complete", finished.finish_reason,
                                      used.input_tokens if used else None, used.output_tokens if used else None)
                    view = await reply.finish(res.db, outcome)
                    settled = True  # a caller closing us after this event must not mark it interrupted
                    yield StreamEvent("done", view)
                elif event.name == "error":
                    failed: chain_run.Failed = event.data
                    kept = (await reply.finish(res.db, _interrupted(failed.partial, failed.error))
                            if failed.partial and reply is not None else None)
                    settled = True
                    yield _error(failed.error, kept)
        except BaseException:  # Stop (client gone), server shutdown: keep what was written
            if parts and reply is not None and not settled:
                with anyio.CancelScope(shield=True):
                    await reply.finish(res.db, _interrupted("".join(parts), None))
            raise


class History:
    """A turn's history as read so far: the newest page (`Turn.history`, with ``new`` lines after
    it), and older pages only while a model's window could take more than those in hand."""

    def __init__(self, db: Sessions, turn: Turn, new: tuple[messages.Line, ...] = ()) -> None:
        self.db, self.turn = db, turn
        self.lines = (*turn.history, *new)
        self.older_than = turn.older_than  # the older messages end here (None: all read)

    async def for_window(self, system: str, budget: Budget) -> tuple[messages.Line, ...]:
        """The lines read once this window's share is in hand (each later, larger window reads on)."""
        while self.older_than is not None and (more := more_to_read(system, self.lines, budget)):
            older, self.older_than = await messages.older_history(self.db, self.turn, self.older_than,
                                                                  max(more, HISTORY_PAGE))
            self.lines = (*older, *self.lines)
        return self.lines


@dataclass
class Reply:
    """The reply being written: where it goes, who makes it, and (once its row exists) when it began."""

    target: ReplyTarget
    made: Made
    names: dict[str, ConfigName]
    started_at: datetime | None = None

    async def begin(self, db: Sessions) -> None:
        self.started_at = await turn_writes.begin_reply(db, self.target, self.made)

    async def finish(self, db: Sessions, outcome: Outcome) -> MessageView:
        if self.started_at is None:
            await self.begin(db)
        assert self.started_at is not None
        return await turn_writes.finish_reply(db, self.target, outcome, self.made, self.names, self.started_at)


def _fit_images(prompt: tuple[ChatMessage, ...], target: chain_run.Target) -> tuple[ChatMessage, ...]:
    """A turn whose newest message has an image goes only to a model that takes images, through a
    protocol that can send them; older images in the history are left out for other models."""
    if target.facts.vision is not False and takes_images(target.provider):
        return prompt
    if not prompt[-1].images:
        return tuple(dataclasses.replace(m, images=()) if m.images else m for m in prompt)
    reason = ("This model doesn't take images" if target.facts.vision is False
              else f"RoleCall can't send images to {target.provider.name} yet")
    message = (f"{reason}. Pick a model that takes images (in the AI wing or as a fallback slot of the preset), "
               "or send the message without its image.")
    raise chain_run.Unfit("no_vision", reason, GenerationError("no_vision", "This model can't see images", message))


def _too_long(exc: ContextTooLong, model: ModelView | None) -> GenerationError:
    name = model.display_name if model else "This model"
    message = (f"This turn needs about {exc.needed:,} tokens (the character, the scene, the newest message and "
               f"room for the reply), and {name} takes {exc.window:,}. Shorten the message or the character's "
               "description, or pick a model with a larger context window.")
    return refusal("context_too_long", message=message)


def _interrupted(text: str, error: GenerationError | None) -> Outcome:
    return Outcome(text, "interrupted", "error" if error else "stopped",
                   error_kind=error.kind if error else None, error_message=error.message if error else None)


def _error(error: GenerationError, reply: MessageView | None = None) -> StreamEvent:
    return StreamEvent("error", {"error": error, "reply": reply})


# --- model limits ------------------------------------------------------------------------------

async def model_limits(db: Sessions, config_id: str, model_id: str) -> tuple[int | None, int | None]:
    """(context window, max output) of a model of a config (see `services.model_facts`)."""
    found = await model_facts.of_config(db, config_id, model_id)
    return found.context_window, found.max_output
