"""Who speaks next in a group scene: the orchestrator's rules (docs/group-scenes.md).

* ``mention``: the cast member named in the last message speaks (the earliest name in the text,
  never the last message's own author, never a muted one); no name: round robin decides.
* ``round_robin``: the cast in order, going on after the most recent character who spoke,
  passing over muted characters and the one who spoke last. Right after the person's message the
  last speaker may answer if nobody else can; a character never answers itself.
* ``model``: a cheap model is asked for a name: the scene's own model, Server-Accessible configs
  only, a one-line answer. Any failure (no model, an E2E key, an upstream error, a name not in
  the cast, ten seconds gone) falls back to round robin.

`next_speaker` returns None when nobody can speak (everyone muted, or the only unmuted character
spoke last): the round ends there.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import cast as typed

from sqlalchemy import select

from rolecall.providers import ChatEvent, ChatMessage, ChatRequest, protocol_for
from rolecall.services import connections
from rolecall.services.cast import Member
from rolecall.services.resources import Resources
from rolecall.services.scene_views import PREMIERE
from rolecall.storage.scene_tables import Message, MessageAlternative, Scene

log = logging.getLogger(__name__)
RECENT = 8  # lines the rules (and the model) look at
MODEL_SECONDS = 10.0
MODEL_REPLY_TOKENS = 16


@dataclass(frozen=True)
class Said:
    """One recent line of the scene: who said it (None: the person) and what."""

    character_id: str | None
    role: str
    text: str


@dataclass(frozen=True)
class Pick:
    character_id: str | None
    how: str  # the rule that decided: mention, round_robin, model


def round_robin(cast: Sequence[Member], lines: Sequence[Said]) -> str | None:
    live = [m for m in cast if not m.muted]
    if not live:
        return None
    last_author = lines[-1].character_id if lines and lines[-1].role == "assistant" else None
    spoke = next((line.character_id for line in reversed(lines) if line.role == "assistant"), None)
    order = [m.id for m in cast]
    start = order.index(spoke) + 1 if spoke in order else 0
    rotation = [order[(start + i) % len(order)] for i in range(len(order))]
    for character_id in rotation:
        if character_id != spoke and any(m.id == character_id for m in live):
            return character_id
    # Only the last speaker is left: it may answer the person, not itself.
    return spoke if spoke is not None and last_author is None and any(m.id == spoke for m in live) else None


def mention(cast: Sequence[Member], lines: Sequence[Said]) -> str | None:
    """The earliest cast name in the last line (whole words, any case); None when nobody is named."""
    if not lines:
        return None
    last = lines[-1]
    text = last.text.casefold()
    found: list[tuple[int, str]] = []
    for member in cast:
        if member.muted or member.id == last.character_id:
            continue
        hit = re.search(rf"(?<!\w){re.escape(member.name.casefold())}(?!\w)", text)
        if hit:
            found.append((hit.start(), member.id))
    return min(found)[1] if found else None


async def by_model(res: Resources, account_id: str, scene_id: str, cast: Sequence[Member],
                   lines: Sequence[Said]) -> str | None:
    """Ask the scene's model for the next speaker's name; None on any failure."""
    live = [m for m in cast if not m.muted]
    if not live:
        return None
    async with res.db() as s:
        section, model_id = (await s.execute(select(Scene.model_section, Scene.model_id)
                                             .where(Scene.id == scene_id))).one()
    if not section or not model_id or section == PREMIERE:
        return None
    names = {m.id: m.name for m in cast}
    try:
        config = await connections.open_config(res, account_id, section, connections.ServerKey())
        script = "\n".join(f"{names.get(line.character_id or '', 'Someone') if line.role == 'assistant' else 'Person'}: "
                           f"{line.text[:500]}" for line in lines)
        request = ChatRequest((
            ChatMessage("system", "You direct a group conversation. Answer with only the name of the character "
                                  "who should speak next, one of: " + ", ".join(m.name for m in live) + "."),
            ChatMessage("user", script or "(The scene begins.)")), model=model_id, max_tokens=MODEL_REPLY_TOKENS)
        adapter = protocol_for(config.provider.protocol)
        parts: list[str] = []
        async with asyncio.timeout(MODEL_SECONDS):
            events = typed("AsyncGenerator[ChatEvent, None]", adapter.stream_chat(config.connection, request, res.http))
            async for event in events:
                if event.kind == "text" and event.text:
                    parts.append(event.text)
    except Exception as exc:  # any failure means round robin
        log.info("orchestrator model pick failed (%s); round robin decides", type(exc).__name__)
        return None
    answer = "".join(parts).strip().casefold()
    for member in sorted(live, key=lambda m: -len(m.name)):
        if member.name.casefold() in answer:
            return member.id
    return None


async def recent_lines(res: Resources, scene_id: str) -> list[Said]:
    async with res.db() as s:
        rows = (await s.execute(
            select(Message.character_id, Message.role, MessageAlternative.text)
            .join(MessageAlternative, (MessageAlternative.message_id == Message.id)
                  & (MessageAlternative.idx == Message.active))
            .where(Message.scene_id == scene_id).order_by(Message.position.desc(), Message.created_at.desc())
            .limit(RECENT))).all()
    return [Said(c, r, t) for c, r, t in reversed(rows)]


async def next_speaker(res: Resources, account_id: str, scene_id: str, rule: str, cast: Sequence[Member]) -> Pick:
    lines = await recent_lines(res, scene_id)
    if rule == "mention":
        picked = mention(cast, lines)
        if picked is not None:
            return Pick(picked, "mention")
    elif rule == "model":
        picked = await by_model(res, account_id, scene_id, cast, lines)
        if picked is not None:
            return Pick(picked, "model")
    return Pick(round_robin(cast, lines), "round_robin")
