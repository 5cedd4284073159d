"""Post-production passes on a scene: start them, schedule them, and read their state.

A pass is a background job (services/jobs.py) named in `JOB_NAMES`, whose params say which scene
(and reply) it works on; what it does is in services/pass_jobs.py. The scene reads its passes
back from the job rows (status queued, running, done or failed with the reason) and its
schedules from `job_schedule` (services/schedules.py): "regenerate this reply at 03:00" is a
one-off schedule, "summarize every night" a daily one. Times are the person's: the schedule keeps
the IANA time zone their browser sends (UTC when none), a nightly time is on that zone's clock
(daylight saving included), and a "regenerate at" time without a UTC offset is read in it.

Another account's scene, reply or schedule answers `NotFound`, like every object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select

from rolecall.services import jobs, schedules
from rolecall.services.errors import Conflict, Invalid, NotFound
from rolecall.services.jobs import JobView
from rolecall.services.messages import NO_SUCH_MESSAGE
from rolecall.services.resources import Resources
from rolecall.services.scenes import NO_SUCH_SCENE
from rolecall.storage.db import Sessions
from rolecall.storage.scene_tables import Message, MessageAlternative, Scene, SceneSummary
from rolecall.storage.tables import JobRecord, utcnow

SUMMARY_JOB = "summarize_scene"
POLISH_JOB = "polish_reply"
REGENERATE_JOB = "regenerate_reply"
KINDS = {SUMMARY_JOB: "summary", POLISH_JOB: "polish", REGENERATE_JOB: "regenerate"}
JOB_NAMES = tuple(KINDS)
DEFAULT_NIGHTLY = "03:00"
MAX_AHEAD = timedelta(days=366)
RECENT = 20
STILL_WRITING = "This reply is still being written. Polish it once it has finished."
Kind = Literal["summary", "regenerate"]


@dataclass(frozen=True)
class PassView:
    """One pass as the scene shows it: the job's state plus what it works on."""

    job_id: str
    kind: str  # summary | polish | regenerate
    scene_id: str
    message_id: str | None
    status: str  # queued | running | done | failed
    error: str
    note: str
    attempts: int
    created_at: str
    finished_at: str | None
    scheduled: bool  # started by a schedule rather than a click


@dataclass(frozen=True)
class SummaryView:
    text: str
    covered: int  # how many messages, from the start of the scene
    through_position: int
    updated_at: str


@dataclass(frozen=True)
class PassSchedule:
    id: str
    kind: str  # summary | regenerate
    scene_id: str
    message_id: str | None
    repeats: bool  # every night (daily_at) or once (run_at)
    daily_at: str | None  # "HH:MM" on the clock of time_zone
    next_run_at: str
    last_job_id: str | None
    time_zone: str  # IANA name, the person's


def _pass(job: JobView, params: dict[str, Any], scheduled: bool) -> PassView:
    return PassView(job.id, KINDS.get(job.name, job.name), params.get("scene_id", ""), params.get("message_id"),
                    job.status, job.error, job.note, job.attempts, job.created_at, job.finished_at, scheduled)


def _schedule(view: schedules.ScheduleView) -> PassSchedule:
    params = view.params or {}
    return PassSchedule(view.id, KINDS.get(view.job_name, view.job_name), params.get("scene_id", ""),
                        params.get("message_id"), not view.run_once, None if view.run_once else view.daily_at,
                        view.next_run_at, view.last_job_id, view.time_zone)


async def _check_scene(db: Sessions, account_id: str, scene_id: str, message_id: str | None = None) -> None:
    async with db() as s:
        if await s.scalar(select(Scene.id).where(Scene.id == scene_id, Scene.account_id == account_id)) is None:
            raise NotFound(NO_SUCH_SCENE)
        if message_id is not None:
            role = await s.scalar(select(Message.role).where(Message.id == message_id, Message.scene_id == scene_id))
            if role is None:
                raise NotFound(NO_SUCH_MESSAGE)
            if role != "assistant":
                raise Invalid("Only a character's reply can be polished or regenerated.", field="message_id")


async def _start(res: Resources, account_id: str, name: str, params: dict[str, str]) -> PassView:
    job_id = await jobs.submit(res, name, {"account_id": account_id, **params}, account_id=account_id)
    return _pass(await jobs.get(res.db, account_id, job_id), params, False)


async def summarize_now(res: Resources, account_id: str, scene_id: str) -> PassView:
    await _check_scene(res.db, account_id, scene_id)
    return await _start(res, account_id, SUMMARY_JOB, {"scene_id": scene_id})


async def still_writing(db: Sessions, message_id: str) -> bool:
    """The reply's shown version is streaming (a send, Regenerate or Continue not finished yet)."""
    async with db() as s:
        return await s.scalar(select(MessageAlternative.status).join(Message, Message.id == MessageAlternative.message_id)
                              .where(Message.id == message_id, MessageAlternative.idx == Message.active)) == "streaming"


async def polish_now(res: Resources, account_id: str, scene_id: str, message_id: str) -> PassView:
    """Start a polish of a finished reply; one still being written is refused (its text is not final)."""
    await _check_scene(res.db, account_id, scene_id, message_id)
    if await still_writing(res.db, message_id):
        raise Conflict(STILL_WRITING, field="message_id")
    return await _start(res, account_id, POLISH_JOB, {"scene_id": scene_id, "message_id": message_id})


async def scene_passes(db: Sessions, account_id: str, scene_id: str, *, limit: int = RECENT) -> list[PassView]:
    """The scene's newest passes first (NotFound for another account's scene)."""
    await _check_scene(db, account_id, scene_id)
    async with db() as s:
        rows = list(await s.scalars(
            select(JobRecord).where(JobRecord.account_id == account_id, JobRecord.name.in_(JOB_NAMES),
                                    JobRecord.params["scene_id"].as_string() == scene_id)
            .order_by(JobRecord.created_at.desc()).limit(limit)))
    return [_pass(jobs.view(r), dict(r.params or {}), (r.idempotency_key or "").startswith("schedule:")) for r in rows]


async def summary_of(db: Sessions, account_id: str, scene_id: str) -> SummaryView | None:
    async with db() as s:
        row = await s.scalar(select(SceneSummary).where(SceneSummary.scene_id == scene_id,
                                                        SceneSummary.account_id == account_id))
    if row is None:
        return None
    return SummaryView(row.text, row.covered, row.through_position, row.updated_at.isoformat())


# --- schedules ---------------------------------------------------------------------------------

def _run_at(value: datetime | None, time_zone: str | None) -> datetime:
    if value is None:
        raise Invalid("Say when: a date and time.", field="run_at")
    if value.tzinfo is None:  # a wall-clock time: the person's own, when they said which zone
        if time_zone is None:
            raise Invalid("Give the time with its UTC offset (for example 2026-12-06T03:00:00+01:00) "
                          "or your time zone.", field="run_at")
        value = value.replace(tzinfo=schedules.zone(time_zone))
    value = value.astimezone(UTC)
    now = utcnow()
    if value <= now:
        raise Invalid("That time has passed; pick a time in the future.", field="run_at")
    if value > now + MAX_AHEAD:
        raise Invalid("Pick a time within a year.", field="run_at")
    return value


async def add_schedule(res: Resources, account_id: str, *, kind: Kind, scene_id: str, message_id: str | None = None,
                       run_at: datetime | None = None, daily_at: str | None = None,
                       time_zone: str | None = None) -> PassSchedule:
    """"Regenerate this reply at <run_at>" (once), or "summarize every night at <daily_at>", both in
    the person's ``time_zone`` (an IANA name; UTC when None)."""
    schedules.zone(time_zone)  # an unknown zone is refused before anything else
    if kind == "regenerate":
        if message_id is None:
            raise Invalid("Say which reply to regenerate.", field="message_id")
        at = _run_at(run_at, time_zone)
        await _check_scene(res.db, account_id, scene_id, message_id)
        params = {"account_id": account_id, "scene_id": scene_id, "message_id": message_id}
        view = await schedules.add(res.db, label=f"regenerate:{message_id}:{at.isoformat()}", job_name=REGENERATE_JOB,
                                   params=params, account_id=account_id, first_run_at=at, run_once=True,
                                   time_zone=time_zone)
        return _schedule(view)
    await _check_scene(res.db, account_id, scene_id)
    daily = daily_at or DEFAULT_NIGHTLY
    schedules.next_time(daily_at=daily, every_seconds=None, after=utcnow())  # checks the HH:MM form
    view = await schedules.add(res.db, label=f"summary:{scene_id}", job_name=SUMMARY_JOB,
                               params={"account_id": account_id, "scene_id": scene_id}, account_id=account_id,
                               daily_at=daily, time_zone=time_zone)
    return _schedule(view)


async def list_schedules(db: Sessions, account_id: str, scene_id: str | None = None) -> list[PassSchedule]:
    """The account's pass schedules (of one scene, when given), soonest first."""
    if scene_id is not None:
        await _check_scene(db, account_id, scene_id)
    found = await schedules.list_for(db, account_id, job_names=JOB_NAMES,
                                     params={"scene_id": scene_id} if scene_id is not None else None)
    return [_schedule(v) for v in found]


async def cancel_schedule(db: Sessions, account_id: str, schedule_id: str) -> None:
    view = await schedules.get(db, schedule_id)
    if view is None or view.job_name not in JOB_NAMES:
        raise NotFound("No such schedule.")
    await schedules.remove(db, account_id, schedule_id)
