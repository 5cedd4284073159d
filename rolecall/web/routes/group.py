"""Group scenes: the cast, the orchestrator's settings, the person's message that starts a round of
auto-responder turns, Stop, and the scene's live event stream (docs/group-scenes.md).

``GET /api/scenes/{id}/events`` is a server-sent event stream fed by the scene's kept events
(`services/scene_events.py`: a Redis Stream with REDIS_URL, so a turn running in a worker on another
machine reaches this page). It opens with a ``state`` event, then what the page missed (after its
``Last-Event-ID``, or the turn in progress), then the live events, each with its ``id:``; a finished
turn arrives as ``turn_done`` with the message as the page shows it (read once per turn, never per
chunk).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from rolecall.services import cast, group_turns, messages, scene_events
from rolecall.services.errors import NotFound
from rolecall.services.resources import Resources
from rolecall.web.deps import CurrentAccount, ResourcesDep
from rolecall.web.routes.jobs import JobOut
from rolecall.web.scene_json import MessageOut, message_json
from rolecall.web.sse import EventStream, delta, event

api = APIRouter(prefix="/api/scenes/{scene_id}", tags=["group scenes"])


class MemberOut(BaseModel):
    id: str
    name: str
    avatar_color: str
    position: int
    preset_id: str | None
    muted: bool


class TurnJobOut(BaseModel):
    position: int
    job: JobOut


class GroupOut(BaseModel):
    rule: str = Field(description="mention, round_robin or model")
    turn_limit: int
    running: bool = Field(description="Turns are being made after your last message")
    cast: list[MemberOut]
    turns: list[TurnJobOut] = Field(description="The newest turn jobs, with their status")


class GroupPatch(BaseModel):
    rule: str | None = Field(None, max_length=16)
    turn_limit: int | None = None


class MemberIn(BaseModel):
    character_id: str = Field(max_length=24)
    preset_id: str | None = Field(None, max_length=24, description="Its own preset; null: the scene's")


class MemberPatch(BaseModel):
    preset_id: str | None = Field(None, max_length=24)
    muted: bool | None = None


class SayIn(BaseModel):
    text: str = Field(max_length=messages.MAX_TEXT * 2)


class SaidOut(BaseModel):
    message: MessageOut
    job_id: str | None


async def _group(res: Resources, account_id: str, scene_id: str) -> GroupOut:
    view = await cast.group_view(res.db, account_id, scene_id)
    turns = await group_turns.turn_jobs(res, account_id, scene_id)
    return GroupOut(rule=view.rule, turn_limit=view.turn_limit, running=view.round is not None,
                    cast=[MemberOut(**m.__dict__) for m in view.cast],
                    turns=[TurnJobOut(position=t.position, job=JobOut.of(t.job)) for t in turns])


@api.get("/group", summary="The cast, the orchestrator's rule and limit, and the turn jobs")
async def get_group(res: ResourcesDep, account: CurrentAccount, scene_id: str) -> GroupOut:
    return await _group(res, account.id, scene_id)


@api.patch("/group", summary="Choose the orchestrator's rule and the turn limit")
async def update_group(res: ResourcesDep, account: CurrentAccount, scene_id: str, body: GroupPatch) -> GroupOut:
    await cast.update_group(res.db, account.id, scene_id, body.model_dump(exclude_unset=True))
    return await _group(res, account.id, scene_id)


@api.post("/cast", status_code=201, summary="Add one of your characters to the scene")
async def add_member(res: ResourcesDep, account: CurrentAccount, scene_id: str, body: MemberIn) -> GroupOut:
    await cast.add_member(res.db, account.id, scene_id, body.character_id, body.preset_id)
    return await _group(res, account.id, scene_id)


@api.patch("/cast/{character_id}", summary="A character's own preset, or mute it")
async def update_member(res: ResourcesDep, account: CurrentAccount, scene_id: str, character_id: str,
                        body: MemberPatch) -> GroupOut:
    await cast.update_member(res.db, account.id, scene_id, character_id, body.model_dump(exclude_unset=True))
    return await _group(res, account.id, scene_id)


@api.delete("/cast/{character_id}", summary="Take a character out of the scene")
async def remove_member(res: ResourcesDep, account: CurrentAccount, scene_id: str, character_id: str) -> GroupOut:
    await cast.remove_member(res.db, account.id, scene_id, character_id)
    return await _group(res, account.id, scene_id)


@api.post("/group/messages", status_code=201,
          summary="Say something in a group scene; the characters' turns follow as background jobs")
async def say(res: ResourcesDep, account: CurrentAccount, scene_id: str, body: SayIn) -> SaidOut:
    said = await group_turns.say(res, account.id, scene_id, body.text)
    return SaidOut(message=MessageOut.of(said.message), job_id=said.job_id)


@api.post("/group/stop", summary="Stop the characters' turns")
async def stop(res: ResourcesDep, account: CurrentAccount, scene_id: str) -> GroupOut:
    await group_turns.stop(res, account.id, scene_id)
    return await _group(res, account.id, scene_id)


@api.get("/events", response_class=EventStream, summary="The scene's live events (server-sent events)",
         responses={200: {"content": {"text/event-stream": {}}, "description": "state, turn_started, delta "
                          "({\"t\": text}), turn_done, notice, turn_failed, stopped; each with an id: send the "
                          "last one as Last-Event-ID to get what was missed"}})
async def events(res: ResourcesDep, account: CurrentAccount, scene_id: str,
                 last_event_id: str | None = Header(None, max_length=64)) -> EventStream:
    state = await _group(res, account.id, scene_id)  # 404 before the stream starts
    return EventStream(_frames(res, account.id, scene_id, state, last_event_id))


async def _frames(res: Resources, account_id: str, scene_id: str, state: GroupOut,
                  last_id: str | None) -> AsyncGenerator[bytes, None]:
    missed, tail = await scene_events.missed(res, scene_id, last_id)
    yield _id(tail) + event("state", state.model_dump(mode="json"))
    for event_id, item in missed:
        yield _id(event_id) + await _frame(res, account_id, item)
    async with aclosing(scene_events.follow(res, scene_id, tail)) as live:  # the reader goes when the page does
        async for event_id, item in live:
            yield _id(event_id) + await _frame(res, account_id, item)


def _id(event_id: str | None) -> bytes:
    # An SSE id: the browser sends it back as Last-Event-ID when it reconnects.
    return b"id: " + event_id.encode() + b"\n" if event_id else b""


async def _frame(res: Resources, account_id: str, item: dict[str, Any]) -> bytes:
    name, data = item.get("e"), item.get("d")
    if name == "delta" and isinstance(data, str):
        return delta(data)
    if name == "turn_done" and isinstance(data, dict):
        return event(name, {**data, "message": await _message(res, account_id, data.get("message_id"))})
    return event(str(name), data)


async def _message(res: Resources, account_id: str, message_id: Any) -> dict[str, Any] | None:
    try:
        return message_json(await messages.get_message(res.db, account_id, str(message_id)))
    except NotFound:  # deleted in between
        return None

