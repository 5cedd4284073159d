"""Scheduled jobs: "every day at 03:00" or "every N seconds", each due time fired once.

A daily time is on the clock of the schedule's IANA time zone (the person's, from their browser;
UTC when not given): `next_time` finds the next such moment and stores it in UTC, so "03:00 in
Europe/Berlin" is 02:00 UTC in summer and 03:00 UTC in winter. A time the clocks skip that day
(spring forward) fires at the same distance after the jump (02:30 becomes 03:30); a time that
happens twice (fall back) fires at the first one.

Every worker runs `claim_due` on its upkeep tick. A due schedule is claimed by moving its
``next_run_at`` on with a conditional UPDATE that names the value just read; the job for that
due time is inserted in the same transaction, with the idempotency key
``schedule:<id>:<due time>``. Two workers that read the same due row: one UPDATE changes it,
the other changes nothing and enqueues nothing. This works the same on SQLite and PostgreSQL
(no ``FOR UPDATE SKIP LOCKED`` needed). A schedule missed while no worker ran fires once for the
latest missed time, not once per missed day. A one-off (``run_once``) is claimed by deleting its
row with the same condition, so it too fires once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from rolecall.services import jobs
from rolecall.services.errors import Conflict, Invalid, NotFound
from rolecall.storage.db import Sessions
from rolecall.storage.tables import JobSchedule, new_id, utcnow

_DAILY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
MIN_EVERY = 10
DEFAULT_ZONE = "UTC"


@dataclass(frozen=True)
class ScheduleView:
    id: str
    label: str
    job_name: str
    daily_at: str | None
    every_seconds: int | None
    next_run_at: str
    last_job_id: str | None
    run_once: bool = False
    params: dict[str, Any] | None = None
    time_zone: str = DEFAULT_ZONE


def _view(row: JobSchedule) -> ScheduleView:
    return ScheduleView(row.id, row.label, row.job_name, row.daily_at, row.every_seconds,
                        row.next_run_at.isoformat(), row.last_job_id, bool(row.run_once), dict(row.params or {}),
                        row.time_zone or DEFAULT_ZONE)


def zone(name: str | None) -> ZoneInfo:
    """The IANA time zone called ``name`` (UTC when None); `Invalid` for a name zoneinfo does not know."""
    name = DEFAULT_ZONE if name is None else name
    if len(name) > 64 or not _ZONE.match(name):  # never a path: zoneinfo reads files by this name
        raise Invalid("Unknown time zone.", field="time_zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid(f"Unknown time zone: {name}.", field="time_zone") from None


def next_time(*, daily_at: str | None, every_seconds: int | None, after: datetime,
              time_zone: str | None = None) -> datetime:
    """The first due time strictly after ``after``, in UTC; ``daily_at`` is read on the clock of
    ``time_zone`` (UTC when None)."""
    if every_seconds is not None:
        return after + timedelta(seconds=every_seconds)
    match = _DAILY.match(daily_at or "")
    if match is None:
        raise Invalid("Give the time as HH:MM (24-hour).", field="daily_at")
    clock = zone(time_zone)
    at = time(int(match[1]), int(match[2]))
    today = after.astimezone(clock).date()
    for days in range(3):  # today's time may have passed; a day is never shorter than 23 hours
        due = datetime.combine(today + timedelta(days=days), at, tzinfo=clock).astimezone(UTC)
        if due > after:
            return due
    raise AssertionError("a daily time always comes within two days")


async def add(db: Sessions, *, label: str, job_name: str, params: dict[str, Any] | None = None,
              account_id: str | None = None, daily_at: str | None = None, every_seconds: int | None = None,
              first_run_at: datetime | None = None, min_every: int = MIN_EVERY, run_once: bool = False,
              time_zone: str | None = None) -> ScheduleView:
    """A new schedule. Exactly one rule: ``daily_at`` ("HH:MM" on the clock of ``time_zone``, UTC
    when None) or ``every_seconds``; with ``run_once`` it fires once, at ``first_run_at``. A label
    the account already uses: `Conflict`."""
    clock = zone(time_zone)
    if run_once and first_run_at is not None and daily_at is None and every_seconds is None:
        daily_at = f"{first_run_at.astimezone(clock):%H:%M}"
    if (daily_at is None) == (every_seconds is None):
        raise Invalid("Pick one: a daily time or an interval.", field="daily_at")
    if every_seconds is not None and every_seconds < min_every:
        raise Invalid(f"Run it at most every {min_every} seconds.", field="every_seconds")
    now = utcnow()
    first = first_run_at or next_time(daily_at=daily_at, every_seconds=every_seconds, after=now, time_zone=clock.key)
    row = JobSchedule(id=new_id(), account_id=account_id, label=label, job_name=job_name, params=params or {},
                      daily_at=daily_at, every_seconds=every_seconds, next_run_at=first, run_once=run_once,
                      time_zone=clock.key)
    try:
        async with db.begin() as s:
            s.add(row)
    except IntegrityError:
        raise Conflict("This is already scheduled.", field="label") from None
    return _view(row)


async def remove(db: Sessions, account_id: str | None, schedule_id: str) -> None:
    async with db.begin() as s:
        row = await s.get(JobSchedule, schedule_id)
        if row is None or row.account_id != account_id:
            raise NotFound("No such schedule.")
        await s.delete(row)


async def list_for(db: Sessions, account_id: str, *, job_names: tuple[str, ...] = (),
                   params: dict[str, str] | None = None) -> list[ScheduleView]:
    """The account's schedules, soonest first; only those of ``job_names`` and with ``params``'
    values, when given (a scene's passes, say)."""
    query = select(JobSchedule).where(JobSchedule.account_id == account_id)
    if job_names:
        query = query.where(JobSchedule.job_name.in_(job_names))
    for name, value in (params or {}).items():
        query = query.where(JobSchedule.params[name].as_string() == value)
    async with db() as s:
        return [_view(r) for r in await s.scalars(query.order_by(JobSchedule.next_run_at))]


async def get(db: Sessions, schedule_id: str) -> ScheduleView | None:
    async with db() as s:
        row = await s.get(JobSchedule, schedule_id)
    return _view(row) if row is not None else None


async def claim_due(db: Sessions, *, max_attempts: int, limit: int = 100) -> list[str]:
    """Fire the schedules that are due and that this caller wins: the new jobs' ids, to deliver."""
    now = utcnow()
    async with db() as s:
        due = list(await s.scalars(select(JobSchedule).where(JobSchedule.next_run_at <= now)
                                   .order_by(JobSchedule.next_run_at).limit(limit)))
    fired = []
    for row in due:
        upcoming = next_time(daily_at=row.daily_at, every_seconds=row.every_seconds, after=max(now, row.next_run_at),
                             time_zone=row.time_zone)
        job_id = new_id()
        same = (JobSchedule.id == row.id, JobSchedule.next_run_at == row.next_run_at)
        async with db.begin() as s:
            if row.run_once:
                won = await s.execute(delete(JobSchedule).where(*same).execution_options(synchronize_session=False))
            else:
                won = await s.execute(update(JobSchedule).where(*same).values(next_run_at=upcoming, last_job_id=job_id)
                                      .execution_options(synchronize_session=False))
            if won.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another worker fired this due time
            await jobs.record(db, row.job_name, dict(row.params or {}), account_id=row.account_id,
                              key=f"schedule:{row.id}:{row.next_run_at.isoformat()}", max_attempts=max_attempts,
                              session=s, job_id=job_id)
        fired.append(job_id)
    return fired
