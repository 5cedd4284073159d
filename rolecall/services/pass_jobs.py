"""What the post-production jobs do (registered in jobs/tasks.py; started by services/passes.py).

* `summarize`: the scene so far, kept per scene (`scene_summary`). It grows in order: the last
  summary plus the turns after it, as many as fit the model (oldest first), so a long scene is
  summarized over a few runs and the summary always covers an unbroken start of the scene. The
  prompt puts it in place of older turns that no longer fit (services/prompt.py).
* `polish`: a rewrite of one reply's shown text, stored as a new alternative marked ``polish``.
* `regenerate`: a new alternative of a reply written from the history before it (the scheduled
  "regenerate this reply at 03:00"), marked ``scheduled``.

At least once: a job may run again after its worker died. The alternative a job writes carries
the job's id (unique), so a retry returns the one already written instead of adding another;
a summary is replaced as a whole. Nothing is written before the generation has finished, so a
worker killed mid-generation leaves no half-written text.

A pass whose scene was deleted fails with "No such scene." and takes the scene's schedules with
it, so a nightly summary of a deleted scene does not fail every night.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from rolecall.providers import ChatMessage, ChatRequest
from rolecall.services import jobs, messages, passes, schedules
from rolecall.services.errors import Invalid, NotFound
from rolecall.services.gateway import History, preset_use, system_prompt
from rolecall.services.pass_generation import Generated, PassFailed, Target, Unfit, generate
from rolecall.services.prompt import Budget, ContextTooLong, build, estimate
from rolecall.services.resources import Resources
from rolecall.services.scenes import NO_SUCH_SCENE
from rolecall.storage.db import Sessions
from rolecall.storage.scene_tables import Character, Message, MessageAlternative, Scene, SceneSummary
from rolecall.storage.tables import utcnow

SUMMARIZER = ("You keep the running summary of a roleplay scene. Write a compact summary in the past tense "
              "of everything that happened so far: who is there, what they did and said that matters later, "
              "places, objects, promises and open threads. Merge the earlier summary (if any) with the new "
              "turns. Plain prose, no headings, no commentary; at most about 300 words.")
EDITOR = ("You are a careful line editor. Rewrite the reply you are given so that it reads better: fix grammar, "
          "spelling and awkward phrasing, tighten repetition, keep the meaning, the events, the voice, the "
          "point of view, the formatting and roughly the length. Answer with the rewritten reply only.")
NOTHING_YET = "There is nothing to summarize yet: the scene has no messages."
SUMMARY_TOO_LONG = ("The next message of this scene is too long for the model to summarize. Pick a model with a "
                    "larger context window and try again.")


# --- summary -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Turn:
    position: int
    speaker: str
    text: str


async def _scene_turns(db: Sessions, account_id: str, scene_id: str) -> tuple[str, list[_Turn]]:
    async with db() as s:
        title = await s.scalar(select(Scene.title).where(Scene.id == scene_id, Scene.account_id == account_id))
        if title is None:
            raise NotFound(NO_SUCH_SCENE)
        rows = (await s.execute(
            select(Message.position, Message.role, Character.name, MessageAlternative.text)
            .join(MessageAlternative, (MessageAlternative.message_id == Message.id)
                  & (MessageAlternative.idx == Message.active))
            .outerjoin(Character, Character.id == Message.character_id)
            .where(Message.scene_id == scene_id).order_by(Message.position, Message.created_at))).all()
    turns = [_Turn(position, "The person" if role == "user" else (name or "The character"), text)
             for position, role, name, text in rows if text]
    return title, turns


async def _scene_gone(db: Sessions, account_id: str, scene_id: str) -> NotFound:
    for view in await schedules.list_for(db, account_id, params={"scene_id": scene_id}):
        with contextlib.suppress(NotFound):  # removed meanwhile by the person or another run
            await schedules.remove(db, account_id, view.id)
    return NotFound(NO_SUCH_SCENE)


async def _turn(res: Resources, account_id: str, scene_id: str, message_id: str) -> messages.Turn:
    """The turn before a reply, with the newest page of its history (`History` reads on as a window takes more)."""
    try:
        return await messages.read_turn(res.reads, account_id, scene_id, "regenerate", message_id)
    except NotFound as exc:
        if exc.message == NO_SUCH_SCENE:
            raise await _scene_gone(res.db, account_id, scene_id) from None
        raise


async def summarize(res: Resources, account_id: str, scene_id: str) -> dict[str, Any]:
    try:
        title, turns = await _scene_turns(res.db, account_id, scene_id)
    except NotFound:
        raise await _scene_gone(res.db, account_id, scene_id) from None
    async with res.db() as s:
        before = (await s.execute(select(SceneSummary.text, SceneSummary.through_position, SceneSummary.covered)
                                  .where(SceneSummary.scene_id == scene_id))).first()
    earlier, through, covered = (before[0], before[1], before[2]) if before is not None else ("", -1, 0)
    new = [t for t in turns if t.position > through]
    if not turns:
        raise Invalid(NOTHING_YET)
    if not new:
        return {"summary": "up to date", "covered": covered}
    included: list[_Turn] = []

    async def request(target: Target) -> ChatRequest:
        budget = Budget.for_model(target.facts.context_window, target.facts.max_output)
        head = f"Scene: {title}\n\n" + (f"The summary so far:\n{earlier}\n\n" if earlier else "") + "New turns:\n"
        room = budget.prompt - estimate(SUMMARIZER) - estimate(head)
        included.clear()
        for turn in new:
            cost = estimate(f"{turn.speaker}: {turn.text}")
            if cost > room:
                break
            room -= cost
            included.append(turn)
        if not included:
            raise Unfit("context_too_long", SUMMARY_TOO_LONG)
        body = head + "\n\n".join(f"{t.speaker}: {t.text}" for t in included)
        return ChatRequest((ChatMessage("system", SUMMARIZER), ChatMessage("user", body)), model=target.model_id,
                           max_tokens=budget.reply)

    made = await generate(res, account_id, scene_id, request)
    last = included[-1].position
    await _store_summary(res.db, account_id, scene_id, made.text, last, covered + len(included))
    return {"summary": "updated", "covered": covered + len(included), "through_position": last}


async def _store_summary(db: Sessions, account_id: str, scene_id: str, text: str, through: int, covered: int) -> None:
    values = {"text": text, "through_position": through, "covered": covered, "job_id": jobs.current_job_id(),
              "updated_at": utcnow()}
    for _ in range(2):  # two summaries of one scene finishing at once: the second updates the first's row
        try:
            async with db.begin() as s:
                changed = await s.execute(update(SceneSummary).where(SceneSummary.scene_id == scene_id)
                                          .values(**values).execution_options(synchronize_session=False))
                if changed.rowcount == 0:  # type: ignore[attr-defined]
                    s.add(SceneSummary(scene_id=scene_id, account_id=account_id, **values))
            return
        except IntegrityError:
            continue


# --- polish and regenerate ---------------------------------------------------------------------

async def _already_written(db: Sessions, job_id: str | None) -> int | None:
    if job_id is None:
        return None
    async with db() as s:
        return await s.scalar(select(MessageAlternative.idx).where(MessageAlternative.job_id == job_id))


async def polish(res: Resources, account_id: str, scene_id: str, message_id: str) -> dict[str, Any]:
    job_id = jobs.current_job_id()
    done = await _already_written(res.db, job_id)
    if done is not None:
        return {"alternative": done}
    turn = await _turn(res, account_id, scene_id, message_id)
    if await passes.still_writing(res.db, message_id):  # a Regenerate or Continue began after the click
        raise PassFailed(passes.STILL_WRITING)
    async with res.db() as s:
        text = await s.scalar(select(MessageAlternative.text).join(Message, Message.id == MessageAlternative.message_id)
                              .where(Message.id == message_id, MessageAlternative.idx == Message.active))
    if not text:
        raise Invalid("This reply is empty; there is nothing to polish.", field="message_id")
    who = f" It is spoken by {turn.character.name}, a character in a roleplay scene." if turn.character else ""

    async def request(target: Target) -> ChatRequest:
        budget = Budget.for_model(target.facts.context_window, target.facts.max_output)
        if estimate(EDITOR + who) + estimate(text) > budget.prompt:
            raise Unfit("context_too_long", "This reply is too long for the model to polish. Pick a model with a "
                        "larger context window and try again.")
        return ChatRequest((ChatMessage("system", EDITOR + who), ChatMessage("user", text)), model=target.model_id,
                           max_tokens=max(budget.reply, min(estimate(text) * 2, budget.context // 2)))

    made = await generate(res, account_id, scene_id, request)
    return {"alternative": await _add_alternative(res.db, message_id, made, "polish", job_id)}


async def regenerate(res: Resources, account_id: str, scene_id: str, message_id: str) -> dict[str, Any]:
    job_id = jobs.current_job_id()
    done = await _already_written(res.db, job_id)
    if done is not None:
        return {"alternative": done}
    turn = await _turn(res, account_id, scene_id, message_id)
    preset = await preset_use(res.db, turn)  # as the Regenerate button would: the preset's prompt and samplers
    system = system_prompt(turn, preset)
    history = History(res.reads, turn)

    async def request(target: Target) -> ChatRequest:
        budget = Budget.for_model(target.facts.context_window, target.facts.max_output, preset.settings.get("max_tokens"))
        try:
            prompt = build(system, await history.for_window(system, budget), budget, turn.summary)
        except ContextTooLong as exc:
            raise Unfit("context_too_long", f"This reply needs about {exc.needed:,} tokens and the model takes "
                        f"{exc.window:,}. Pick a model with a larger context window.") from None
        return ChatRequest(prompt, model=target.model_id, max_tokens=budget.reply)

    made = await generate(res, account_id, scene_id, request, settings=preset.settings)
    return {"alternative": await _add_alternative(res.db, message_id, made, "scheduled", job_id)}


async def _add_alternative(db: Sessions, message_id: str, made: Generated, origin: str, job_id: str | None) -> int:
    """A new alternative after the last one, shown at once; the earlier ones stay."""
    for _ in range(3):  # a Regenerate in the scene may take the same index at the same moment
        try:
            async with db.begin() as s:
                last = await s.scalar(select(func.max(MessageAlternative.idx))
                                      .where(MessageAlternative.message_id == message_id))
                if last is None:
                    raise NotFound(messages.NO_SUCH_MESSAGE)
                s.add(MessageAlternative(
                    message_id=message_id, idx=last + 1, text=made.text, status="complete", origin=origin,
                    job_id=job_id, finish_reason=made.finish_reason, input_tokens=made.input_tokens,
                    output_tokens=made.output_tokens, model_section=made.section, model_id=made.model_id,
                    provider_id=made.provider_id))
                await s.execute(update(Message).where(Message.id == message_id).values(active=last + 1))
            return last + 1
        except IntegrityError:
            done = await _already_written(db, job_id)
            if done is not None:
                return done
    raise PassFailed("Another reply was being written to this message at the same time; try again.")
