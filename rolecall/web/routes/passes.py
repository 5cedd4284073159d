"""Post-production passes (summary, polish, scheduled regeneration) and their schedules, as JSON.

Starting a pass answers 202 with the pass's job; its state is then read from
``GET /api/scenes/{scene_id}/passes`` (or ``/api/jobs/{job_id}``). Another account's scene,
reply or schedule answers 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from rolecall.services import passes
from rolecall.services.passes import PassSchedule, PassView, SummaryView
from rolecall.web.deps import CurrentAccount, ResourcesDep

api = APIRouter(prefix="/api", tags=["passes"])


class PassOut(BaseModel):
    job_id: str
    kind: Literal["summary", "polish", "regenerate"]
    scene_id: str
    message_id: str | None
    status: Literal["queued", "running", "done", "failed"]
    error: str = Field(description="Why it failed (while it is retried: why the last attempt failed)")
    note: str
    attempts: int
    created_at: str
    finished_at: str | None
    scheduled: bool = Field(description="Started by a schedule rather than a click")

    @classmethod
    def of(cls, p: PassView) -> PassOut:
        return cls(**p.__dict__)


class SummaryOut(BaseModel):
    text: str
    covered: int = Field(description="How many messages it covers, from the start of the scene")
    through_position: int
    updated_at: str

    @classmethod
    def of(cls, s: SummaryView | None) -> SummaryOut | None:
        return cls(**s.__dict__) if s is not None else None


class ScheduleOut(BaseModel):
    id: str
    kind: Literal["summary", "regenerate"]
    scene_id: str
    message_id: str | None
    repeats: bool = Field(description="Every night at daily_at, or once at next_run_at")
    daily_at: str | None = Field(description='"HH:MM" on the clock of time_zone')
    next_run_at: str = Field(description="UTC, with its offset")
    last_job_id: str | None
    time_zone: str = Field(description="The IANA time zone the times were given in (UTC when none was)")

    @classmethod
    def of(cls, s: PassSchedule) -> ScheduleOut:
        return cls(**s.__dict__)


class ScenePassesOut(BaseModel):
    summary: SummaryOut | None
    passes: list[PassOut] = Field(description="Newest first")
    schedules: list[ScheduleOut] = Field(description="Soonest first")


class ScheduleIn(BaseModel):
    kind: Literal["summary", "regenerate"] = Field(description='"regenerate": one reply, once at run_at; '
                                                   '"summary": the scene, every night at daily_at')
    scene_id: str = Field(max_length=40)
    message_id: str | None = Field(None, max_length=40, description="The reply to regenerate")
    run_at: datetime | None = Field(None, description="When to regenerate: with its UTC offset, or without one "
                                    "to mean that time in time_zone")
    daily_at: str | None = Field(None, max_length=5, description='"HH:MM" in time_zone; 03:00 when left out')
    time_zone: str | None = Field(None, max_length=64, description="An IANA time zone (the browser's "
                                  "Intl.DateTimeFormat().resolvedOptions().timeZone); UTC when left out")


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]


@api.get("/scenes/{scene_id}/passes", response_model=ScenePassesOut,
         summary="A scene's summary, its recent passes with their status, and its schedules")
async def scene_passes(res: ResourcesDep, account: CurrentAccount, scene_id: str) -> ScenePassesOut:
    found = await passes.scene_passes(res.db, account.id, scene_id)
    return ScenePassesOut(summary=SummaryOut.of(await passes.summary_of(res.db, account.id, scene_id)),
                          passes=[PassOut.of(p) for p in found],
                          schedules=[ScheduleOut.of(s) for s in await passes.list_schedules(res.db, account.id, scene_id)])


@api.post("/scenes/{scene_id}/summary", status_code=202, response_model=PassOut,
          summary="Summarize the scene so far (a background job)")
async def summarize(res: ResourcesDep, account: CurrentAccount, scene_id: str) -> PassOut:
    return PassOut.of(await passes.summarize_now(res, account.id, scene_id))


@api.post("/scenes/{scene_id}/messages/{message_id}/polish", status_code=202, response_model=PassOut,
          summary="Polish a reply: a rewrite becomes a new alternative (a background job)")
async def polish(res: ResourcesDep, account: CurrentAccount, scene_id: str, message_id: str) -> PassOut:
    return PassOut.of(await passes.polish_now(res, account.id, scene_id, message_id))


@api.post("/schedules", status_code=201, response_model=ScheduleOut,
          summary="Schedule a pass: regenerate a reply at a time, or summarize a scene every night")
async def create_schedule(res: ResourcesDep, account: CurrentAccount, body: ScheduleIn) -> ScheduleOut:
    return ScheduleOut.of(await passes.add_schedule(res, account.id, kind=body.kind, scene_id=body.scene_id,
                                                    message_id=body.message_id, run_at=body.run_at,
                                                    daily_at=body.daily_at, time_zone=body.time_zone))


@api.get("/schedules", response_model=ScheduleList, summary="Your scheduled passes, soonest first")
async def list_schedules(res: ResourcesDep, account: CurrentAccount,
                         scene_id: str | None = Query(None, max_length=40)) -> ScheduleList:
    return ScheduleList(schedules=[ScheduleOut.of(s) for s in await passes.list_schedules(res.db, account.id, scene_id)])


@api.delete("/schedules/{schedule_id}", status_code=204, summary="Cancel a scheduled pass")
async def delete_schedule(res: ResourcesDep, account: CurrentAccount, schedule_id: str) -> Response:
    await passes.cancel_schedule(res.db, account.id, schedule_id)
    return Response(status_code=204)
