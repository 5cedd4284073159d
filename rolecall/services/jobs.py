"""Job records: submit a job, claim it, keep its lease, record its progress and its outcome.

The `job` row is the truth and the queue only delivers (docs/decisions.md, "Issue 13: jobs that
survive faults"). Delivery is at least once: arq may hand a job to a second worker, a sweeper
re-delivers jobs whose worker vanished. Every step is therefore a conditional UPDATE:

* `claim` takes a ``queued`` row whose ``run_after`` has come, setting ``running`` with a lease
  (owner + expiry) and one more attempt; a second delivery finds nothing to claim and stops.
* `renew`, `record_progress`, `finish`, `retry_later` and `fail` change the row only while the
  caller still holds the lease, so a worker that lost its lease cannot write a result.
* `sweep` turns rows whose lease expired (the worker died) back into ``queued`` with a note, or
  ``failed`` once their attempts are used up, and returns the ids to deliver again and the
  jobs it failed (their job's failure hook runs, `jobs.runner`).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rolecall.services.errors import NotFound
from rolecall.services.resources import Resources
from rolecall.storage.db import Sessions
from rolecall.storage.tables import JobRecord, new_id, utcnow

RUN_JOB = "run_job"  # the one queue function: it runs whichever job the row names
INTERRUPTED = "Attempt {n} was interrupted (its worker stopped); it was retried."
GAVE_UP = "The job was interrupted {n} times and was not retried again."


@dataclass(frozen=True)
class JobView:
    """A job as its owner sees it (``GET /api/jobs/{id}``)."""

    id: str
    name: str
    status: str  # queued, running, done, failed
    attempts: int
    max_attempts: int
    error: str  # why it failed (the last attempt's reason while it is being retried)
    note: str
    result: Any
    created_at: str
    started_at: str | None
    finished_at: str | None


@dataclass(frozen=True)
class Claimed:
    """A job this worker now holds: run ``name`` with ``params``; ``progress`` is what an
    interrupted earlier attempt recorded (a retry replaces it)."""

    id: str
    name: str
    params: dict[str, Any]
    account_id: str | None
    attempt: int
    max_attempts: int
    progress: Any


@dataclass(frozen=True)
class Lease:
    job_id: str
    owner: str


_current: ContextVar[tuple[Sessions, Lease] | None] = ContextVar("rolecall_job_lease", default=None)
_earlier: ContextVar[Any] = ContextVar("rolecall_job_earlier_progress", default=None)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def view(row: JobRecord) -> JobView:
    """A job row as its owner sees it (for services that select job rows of their own kind)."""
    return _view(row)


def _view(row: JobRecord) -> JobView:
    return JobView(row.id, row.name, row.status, row.attempts, row.max_attempts, row.error, row.note,
                   (row.result or {}).get("value"), row.created_at.isoformat(), _iso(row.started_at),
                   _iso(row.finished_at))


async def submit(res: Resources, name: str, params: Mapping[str, Any] | None = None, *,
                 account_id: str | None = None, key: str | None = None) -> str:
    """Record a job and hand it to the queue; the job's id. The same ``key`` is one job: a second
    submit returns the first job's id and delivers nothing new."""
    job_id, created = await record(res.db, name, dict(params or {}), account_id=account_id, key=key,
                                   max_attempts=res.settings.jobs.max_attempts)
    if created:
        await deliver(res, job_id, 0)
    return job_id


async def submit_hourly(res: Resources, name: str) -> str:
    """Housekeeping that many requests ask for (a purge at every log-in): one job per hour."""
    return await submit(res, name, key=f"{name}:{utcnow():%Y-%m-%dT%H}")


async def record(db: Sessions, name: str, params: dict[str, Any], *, account_id: str | None, key: str | None,
                 max_attempts: int, session: AsyncSession | None = None,
                 job_id: str | None = None) -> tuple[str, bool]:
    """Insert the job row (or find the one with this idempotency key): (id, newly created).
    With ``session`` the row joins the caller's transaction (a schedule firing)."""
    row = JobRecord(id=job_id or new_id(), name=name, params=params, account_id=account_id, idempotency_key=key,
                    max_attempts=max_attempts, status="queued", attempts=0, error="", note="", run_after=utcnow())
    if session is not None:
        session.add(row)
        return row.id, True
    try:
        async with db.begin() as s:
            s.add(row)
        return row.id, True
    except IntegrityError:
        if key is None:
            raise
    async with db() as s:
        existing = await s.scalar(select(JobRecord.id).where(JobRecord.idempotency_key == key))
    if existing is None:  # deleted between the two statements: try once more
        return await record(db, name, params, account_id=account_id, key=key, max_attempts=max_attempts)
    return existing, False


async def deliver(res: Resources, job_id: str, attempt: int, delay: float = 0.0, *, again: bool = False) -> None:
    """Hand the job to the queue. arq keeps one job per id, so a double submit of one attempt is
    one delivery; a re-delivery (``again``) after a lost worker or a lost delivery gets a fresh id."""
    suffix = f".{secrets.token_hex(3)}" if again else ""
    await res.queue.enqueue(RUN_JOB, _job_id=f"{job_id}.{attempt}{suffix}", _defer_by=delay, job_id=job_id)


async def claim(db: Sessions, job_id: str, owner: str, lease_seconds: float) -> Claimed | None:
    """Take the job if it is queued and due; None when another delivery has it or it is over."""
    now = utcnow()
    async with db.begin() as s:
        taken = await s.execute(
            update(JobRecord)
            .where(JobRecord.id == job_id, JobRecord.status == "queued", JobRecord.run_after <= now,
                   JobRecord.attempts < JobRecord.max_attempts)
            .values(status="running", lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=JobRecord.attempts + 1, started_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = await s.get_one(JobRecord, job_id, populate_existing=True)
        return Claimed(row.id, row.name, dict(row.params or {}), row.account_id, row.attempts, row.max_attempts,
                       row.progress)


def _held(lease: Lease) -> Any:
    return and_(JobRecord.id == lease.job_id, JobRecord.status == "running", JobRecord.lease_owner == lease.owner)


async def _change(db: Sessions, lease: Lease, **values: Any) -> bool:
    async with db.begin() as s:
        changed = await s.execute(update(JobRecord).where(_held(lease)).values(**values)
                                  .execution_options(synchronize_session=False))
    return changed.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def renew(db: Sessions, lease: Lease, lease_seconds: float) -> bool:
    """Extend the lease; False when it was lost (the job was taken over and must stop here)."""
    return await _change(db, lease, lease_until=utcnow() + timedelta(seconds=lease_seconds))


async def finish(db: Sessions, lease: Lease, value: Any) -> bool:
    return await _change(db, lease, status="done", result={"value": value}, progress=None, error="",
                         finished_at=utcnow(), lease_owner=None, lease_until=None)


async def fail(db: Sessions, lease: Lease, reason: str) -> bool:
    """Final: the job will not be retried. ``reason`` is shown to its owner."""
    return await _change(db, lease, status="failed", error=reason, finished_at=utcnow(),
                         lease_owner=None, lease_until=None)


async def retry_later(db: Sessions, lease: Lease, reason: str, delay: float) -> bool:
    return await _change(db, lease, status="queued", error=reason, run_after=utcnow() + timedelta(seconds=delay),
                         lease_owner=None, lease_until=None)


@contextlib.asynccontextmanager
async def running(db: Sessions, lease: Lease, progress: Any = None) -> AsyncIterator[None]:
    """While the job's own code runs, `record_progress` knows which job it belongs to, and
    `earlier_progress` returns what an interrupted attempt recorded (``progress``)."""
    token = _current.set((db, lease))
    earlier = _earlier.set(progress)
    try:
        yield
    finally:
        _earlier.reset(earlier)
        _current.reset(token)


def current_job_id() -> str | None:
    """The id of the job whose code is running (None outside a job): a job that writes a result
    elsewhere tags it with this, so a retry of the same job finds what it already wrote."""
    current = _current.get()
    return current[1].job_id if current is not None else None


def earlier_progress() -> Any:
    """What an interrupted earlier attempt of this job recorded with `record_progress` (None if nothing)."""
    earlier = _earlier.get()
    return earlier.get("value") if isinstance(earlier, dict) else None


async def record_progress(progress: Any) -> bool:
    """Called from inside a job: keep a partial result on the row (a retry sees and replaces it).
    False outside a job or when the lease was lost."""
    current = _current.get()
    if current is None:
        return False
    db, lease = current
    return await _change(db, lease, progress={"value": progress})


@dataclass(frozen=True)
class GaveUp:
    """A job the sweeper failed for good (its worker vanished on every attempt)."""

    id: str
    name: str
    params: dict[str, Any]
    error: str


@dataclass(frozen=True)
class Swept:
    again: list[tuple[str, int]]  # (id, attempt) to deliver again
    gave_up: list[GaveUp]


async def sweep(db: Sessions, *, stale_queued_after: float) -> Swept:
    """Jobs to deliver again: those whose worker vanished (lease expired) and queued ones nobody
    has taken for ``stale_queued_after`` seconds (a delivery that was lost); and the jobs whose
    worker vanished on their last attempt, now failed."""
    now = utcnow()
    again: list[tuple[str, int]] = []
    gave_up: list[GaveUp] = []
    async with db() as s:
        expired = (await s.execute(select(JobRecord.id, JobRecord.lease_until, JobRecord.attempts,
                                          JobRecord.max_attempts, JobRecord.name, JobRecord.params)
                                   .where(JobRecord.status == "running", JobRecord.lease_until < now))).all()
        stale = (await s.execute(select(JobRecord.id, JobRecord.attempts).where(
            JobRecord.status == "queued", JobRecord.run_after < now - timedelta(seconds=stale_queued_after)))).all()
    for job_id, lease_until, attempts, max_attempts, name, params in expired:
        failed = attempts >= max_attempts
        values: dict[str, Any] = (
            {"status": "failed", "error": GAVE_UP.format(n=attempts), "finished_at": now} if failed
            else {"status": "queued", "note": INTERRUPTED.format(n=attempts), "run_after": now})
        async with db.begin() as s:
            moved = await s.execute(
                update(JobRecord).where(JobRecord.id == job_id, JobRecord.status == "running",
                                        JobRecord.lease_until == lease_until)
                .values(lease_owner=None, lease_until=None, **values).execution_options(synchronize_session=False))
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            continue  # renewed or swept by another worker meanwhile
        if failed:
            gave_up.append(GaveUp(job_id, name, dict(params or {}), values["error"]))
        else:
            again.append((job_id, attempts))
    for job_id, attempts in stale:
        async with db.begin() as s:  # push run_after on, so only one sweeper re-delivers it
            moved = await s.execute(update(JobRecord).where(
                JobRecord.id == job_id, JobRecord.status == "queued", JobRecord.attempts == attempts,
                JobRecord.run_after < now - timedelta(seconds=stale_queued_after)).values(run_after=now)
                .execution_options(synchronize_session=False))
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            again.append((job_id, attempts))
    return Swept(again, gave_up)


async def get(db: Sessions, account_id: str, job_id: str) -> JobView:
    """The account's job; another account's (or the server's own) answers NotFound."""
    async with db() as s:
        row = await s.scalar(select(JobRecord).where(JobRecord.id == job_id, JobRecord.account_id == account_id))
    if row is None:
        raise NotFound("No such job.")
    return _view(row)


async def list_for(db: Sessions, account_id: str, *, limit: int = 50) -> list[JobView]:
    """The account's newest jobs first."""
    async with db() as s:
        rows = await s.scalars(select(JobRecord).where(JobRecord.account_id == account_id)
                               .order_by(JobRecord.created_at.desc()).limit(limit))
        return [_view(r) for r in rows]


async def list_keyed(db: Sessions, account_id: str, key_prefix: str, *, limit: int = 20) -> list[tuple[str, JobView]]:
    """The account's jobs whose idempotency key starts with ``key_prefix``, newest first, with their keys."""
    async with db() as s:
        rows = await s.scalars(select(JobRecord).where(JobRecord.account_id == account_id,
                                                       JobRecord.idempotency_key.startswith(key_prefix, autoescape=True))
                               .order_by(JobRecord.created_at.desc()).limit(limit))
        return [(r.idempotency_key or "", _view(r)) for r in rows]


async def get_any(db: Sessions, job_id: str) -> JobView | None:
    """Any job by id, for the operator's tools and tests (no account check)."""
    async with db() as s:
        row = await s.get(JobRecord, job_id)
    return _view(row) if row is not None else None
