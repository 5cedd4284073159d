"""A group scene's auto-responder turns: each one a background job (docs/group-scenes.md).

The person's message (`say`) opens a *round*: ``scene.group_round`` is set to that message's
position, and the first turn is submitted as job ``group_turn`` with the idempotency key
``turn:<scene>:<position>``. Each turn job (`run_turn`) lets the orchestrator pick a speaker,
streams the reply through `gateway.run` with `ServerKey()` and ``background=True`` (so only
Server-Accessible configs and the Premiere Theater can run), publishes what happens on the
scene's channel, and submits the next turn, until the scene's turn limit, a new message from the
person (a new round), or Stop (the round is cleared). Both also publish on the scene's control
channel, so a turn streaming in a worker anywhere is cut short, keeping its text as interrupted.

Faults: delivery is at least once and the job row's lease keeps two workers off one turn. A
retry after a dead worker finds the dead attempt's partial reply at the turn's position and
replaces it (deletes it and generates the turn again); if the reply was already complete it only
goes on to the next turn. The speaker an attempt picked is kept as the job's progress, so a
retry gives the turn to the same character.

Events on ``scene:<id>`` (dicts ``{"e": name, "d": data}``, kept with ids by `scene_events` for pages
that connect late; no database write per chunk):
``turn_started`` {position, character_id, name, job_id}, ``delta`` (text), ``turn_done``
{position, message_id, character_id}, ``notice`` {character_id, text, link}, ``turn_failed``
{position, character_id, reason}, ``stopped`` {reason}. A turn job that fails for any other reason
(after its retries) ends its round too, through the job runner's failure hook (`turn_gave_up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from sqlalchemy import delete, select, update

from rolecall.services import cast, gateway, jobs, messages, orchestrator, scene_events, turn_writes
from rolecall.services.connections import ServerKey
from rolecall.services.errors import Conflict, ServiceError
from rolecall.services.generation_errors import GenerationError
from rolecall.services.jobs import JobView
from rolecall.services.resources import Resources
from rolecall.services.scene_views import MessageView
from rolecall.services.scenes import owned_scene
from rolecall.storage.db import rowcount
from rolecall.storage.scene_tables import Message, MessageAlternative, Scene

TURN_JOB = "group_turn"
ADD_CONFIG_LINK = "/settings?tab=api-keys&add=srv"  # opens Add Provider, Server-Accessible chosen
E2E_NOTICE = ("{name}'s model uses an end-to-end encrypted key, which background turns cannot use. "
              "Add a Server-Accessible config for group chats.")
LIMIT_REACHED = "The turn limit was reached; the characters wait for you."
STOPPED = "Stopped."
NOBODY = "Nobody is left to speak (everyone else is muted or just spoke)."
NEW_MESSAGE = "A new message from you."
NOT_GROUP = "Only a scene with two or more characters has auto-responder turns."
GAVE_UP = "A turn could not be made, so the round stopped. {reason}"


class TurnFailed(ServiceError):
    """A turn that cannot be made in the background: the job fails at once with this message."""

    status = 409
    code = "turn_failed"


channel = scene_events.channel  # the scene's kept events: a page that connects late reads the turn so far


def control(scene_id: str) -> str:
    return f"scene:{scene_id}:control"


def turn_key(scene_id: str, position: int) -> str:
    return f"turn:{scene_id}:{position}"


async def _publish(res: Resources, scene_id: str, name: str, data: Any) -> None:
    await scene_events.publish(res, scene_id, name, data)


# --- the person's side: a message, Stop, the state ------------------------------------------

@dataclasses.dataclass(frozen=True)
class Said:
    message: MessageView
    position: int
    job_id: str | None


async def say(res: Resources, account_id: str, scene_id: str, text: str) -> Said:
    """Store the person's message and start its round (a running round ends: its turn stops)."""
    text = messages.check_text(text)
    if len((await cast.group_view(res.db, account_id, scene_id)).cast) < 2:
        raise Conflict(NOT_GROUP)
    view = await turn_writes.add_user_message(res.db, account_id, scene_id, text)
    async with res.db.begin() as s:
        position = await s.scalar(select(Message.position).where(Message.id == view.id))
        assert position is not None
        await s.execute(update(Scene).where(Scene.id == scene_id).values(group_round=position))
    await res.pubsub.publish(control(scene_id), {"stop": NEW_MESSAGE})
    job_id = await _submit(res, account_id, scene_id, position + 1, position)
    return Said(view, position, job_id)


async def stop(res: Resources, account_id: str, scene_id: str) -> None:
    """Stop the running round: no further turns, and a turn being written stops where it is."""
    async with res.db.begin() as s:
        scene = await owned_scene(s, account_id, scene_id)
        scene.group_round = None
    await res.pubsub.publish(control(scene_id), {"stop": STOPPED})
    await _publish(res, scene_id, "stopped", {"reason": STOPPED})


@dataclasses.dataclass(frozen=True)
class TurnJob:
    position: int
    job: JobView


async def turn_jobs(res: Resources, account_id: str, scene_id: str, limit: int = 10) -> list[TurnJob]:
    """The scene's newest turn jobs with their status (failed ones say why)."""
    keyed = await jobs.list_keyed(res.db, account_id, turn_key(scene_id, 0)[:-1], limit=limit)
    return [TurnJob(int(key.rsplit(":", 1)[1]), view) for key, view in keyed]


async def _submit(res: Resources, account_id: str, scene_id: str, position: int, round_at: int) -> str:
    return await jobs.submit(res, TURN_JOB, {"account_id": account_id, "scene_id": scene_id, "position": position,
                                             "round": round_at}, account_id=account_id,
                             key=turn_key(scene_id, position))


async def _end_round(res: Resources, scene_id: str, round_at: int, reason: str) -> None:
    async with res.db.begin() as s:  # only this round: a newer one started by the person goes on
        await s.execute(update(Scene).where(Scene.id == scene_id, Scene.group_round == round_at)
                        .values(group_round=None))
    await _publish(res, scene_id, "stopped", {"reason": reason})


async def turn_gave_up(res: Resources, scene_id: str, position: int, round_at: int, reason: str) -> None:
    """A turn job failed for good (after its retries, or at once): its round ends, with the reason.
    Nothing is said when the round already ended (a generation error ends it itself) or a newer
    one runs. A reply its dead worker left streaming at the turn's position is kept, interrupted."""
    async with res.db.begin() as s:
        ended = await s.execute(update(Scene).where(Scene.id == scene_id, Scene.group_round == round_at)
                                .values(group_round=None))
        left = select(Message.id).where(Message.scene_id == scene_id, Message.position == position,
                                        Message.role == "assistant")
        await s.execute(update(MessageAlternative).where(MessageAlternative.message_id.in_(left),
                                                         MessageAlternative.status == "streaming")
                        .values(status="interrupted").execution_options(synchronize_session=False))
    if rowcount(ended):
        await _publish(res, scene_id, "stopped", {"reason": GAVE_UP.format(reason=reason)})


# --- the job ---------------------------------------------------------------------------------

async def run_turn(res: Resources, account_id: str, scene_id: str, position: int, round: int) -> dict[str, Any]:
    """One turn of a round (the ``group_turn`` job). Returns the job's result."""
    async with res.db() as s:
        scene = await s.scalar(select(Scene).where(Scene.id == scene_id, Scene.account_id == account_id))
        if scene is None or scene.group_round != round:
            return {"position": position, "skipped": "The round ended before this turn."}
        rule, limit = scene.group_rule, scene.turn_limit
        existing = (await s.execute(select(Message.id, Message.character_id, MessageAlternative.status)
                                    .join(MessageAlternative, (MessageAlternative.message_id == Message.id)
                                          & (MessageAlternative.idx == Message.active))
                                    .where(Message.scene_id == scene_id, Message.position == position,
                                           Message.role == "assistant"))).all()
    done = next((row for row in existing if row.status == "complete"), None)
    if done is not None:  # an earlier attempt wrote the turn and died before recording it
        await _next(res, account_id, scene_id, position, round, limit)
        return {"position": position, "character_id": done.character_id, "message_id": done.id, "notices": []}
    if existing:  # a dead attempt's partial reply: this attempt replaces it
        async with res.db.begin() as s:
            await s.execute(delete(Message).where(Message.id.in_([row.id for row in existing])))
    speaker = await _speaker(res, account_id, scene_id, rule)
    if speaker is None:
        await _end_round(res, scene_id, round, NOBODY)
        return {"position": position, "skipped": NOBODY}
    result = await _generate(res, account_id, scene_id, position, round, speaker)
    if result.get("stopped"):
        return result
    await _next(res, account_id, scene_id, position, round, limit)
    return result


async def _speaker(res: Resources, account_id: str, scene_id: str, rule: str) -> cast.Member | None:
    members = (await cast.group_view(res.db, account_id, scene_id)).cast
    earlier = jobs.earlier_progress()
    chosen = earlier.get("character_id") if isinstance(earlier, dict) else None
    if chosen is None:
        chosen = (await orchestrator.next_speaker(res, account_id, scene_id, rule, members)).character_id
        if chosen is not None:
            await jobs.record_progress({"character_id": chosen})
    return next((m for m in members if m.id == chosen), None)


async def _still(res: Resources, scene_id: str, round: int) -> bool:
    async with res.db() as s:
        return await s.scalar(select(Scene.group_round).where(Scene.id == scene_id)) == round


async def _next(res: Resources, account_id: str, scene_id: str, position: int, round: int, limit: int) -> None:
    if position + 1 - round > limit:
        await _end_round(res, scene_id, round, LIMIT_REACHED)
        return
    if await _still(res, scene_id, round):
        await _submit(res, account_id, scene_id, position + 1, round)


async def _generate(res: Resources, account_id: str, scene_id: str, position: int, round: int,
                    speaker: cast.Member) -> dict[str, Any]:
    prepared = await gateway.prepare(res, account_id, scene_id, "send", character_id=speaker.id)
    turn = prepared.turn
    target = dataclasses.replace(turn.target, position=position)
    prepared = dataclasses.replace(prepared, turn=dataclasses.replace(turn, target=target))
    outcome = _Outcome(speaker, position)
    async with _stoppable(res, scene_id) as stopped:
        if not await _still(res, scene_id, round):  # stopped before this turn listened
            return {"position": position, "character_id": speaker.id, "stopped": True, "notices": []}
        await _publish(res, scene_id, "turn_started", {"position": position, "character_id": speaker.id,
                                                       "name": speaker.name, "job_id": jobs.current_job_id()})
        work = asyncio.create_task(_stream(res, scene_id, prepared, outcome))
        waiter = asyncio.create_task(stopped.wait())
        try:
            await asyncio.wait({work, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not work.done():
                work.cancel()  # Stop or a new message: the gateway keeps the partial text, interrupted
            await asyncio.gather(work, return_exceptions=True)
        if work.cancelled() or (stopped.is_set() and outcome.message_id is None):
            return {"position": position, "character_id": speaker.id, "stopped": True, "notices": outcome.notices}
        work.result()
    if outcome.error is not None:
        reason = outcome.notices[0] if outcome.notices else outcome.error.message
        await _publish(res, scene_id, "turn_failed", {"position": position, "character_id": speaker.id,
                                                      "reason": reason})
        await _end_round(res, scene_id, round, reason)
        raise TurnFailed(reason)
    return {"position": position, "character_id": speaker.id, "message_id": outcome.message_id,
            "notices": outcome.notices}


@dataclasses.dataclass
class _Outcome:
    speaker: cast.Member
    position: int
    message_id: str | None = None
    error: GenerationError | None = None
    notices: list[str] = dataclasses.field(default_factory=list)


async def _stream(res: Resources, scene_id: str, prepared: gateway.Prepared, outcome: _Outcome) -> None:
    speaker = outcome.speaker
    async with aclosing(gateway.run(res, prepared, ServerKey(), background=True)) as events:
        async for event in events:
            if event.name == "delta":
                await _publish(res, scene_id, "delta", event.data)
            elif event.name == "skipped" and event.data.get("kind") == "key_unavailable":
                await _notice(res, scene_id, outcome)
            elif event.name == "done":
                outcome.message_id = event.data.id
                await _publish(res, scene_id, "turn_done", {"position": outcome.position,
                                                            "message_id": event.data.id,
                                                            "character_id": speaker.id})
            elif event.name == "error":
                error: GenerationError = event.data["error"]
                if error.kind == "key_needed":  # the whole chain is one E2E config
                    await _notice(res, scene_id, outcome)
                outcome.error = error


async def _notice(res: Resources, scene_id: str, outcome: _Outcome) -> None:
    text = E2E_NOTICE.format(name=outcome.speaker.name)
    if text not in outcome.notices:
        outcome.notices.append(text)
        await _publish(res, scene_id, "notice", {"character_id": outcome.speaker.id, "text": text,
                                                 "link": ADD_CONFIG_LINK})


@contextlib.asynccontextmanager
async def _stoppable(res: Resources, scene_id: str) -> AsyncIterator[asyncio.Event]:
    """An event set when Stop or a new message is published on the scene's control channel."""
    stopped = asyncio.Event()
    async with res.pubsub.subscribe(control(scene_id)) as heard:
        async def listen() -> None:
            async for _ in heard:
                stopped.set()
                return

        listener = asyncio.create_task(listen())
        try:
            yield stopped
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

