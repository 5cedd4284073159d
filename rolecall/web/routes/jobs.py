"""Background jobs as their owner sees them: status, attempts, why one failed, its result.
Another account's job answers 404, like every object."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from rolecall.services import jobs
from rolecall.services.jobs import JobView
from rolecall.web.deps import CurrentAccount, ResourcesDep

api = APIRouter(prefix="/api/jobs", tags=["jobs"])


class JobOut(BaseModel):
    id: str
    name: str
    status: str  # queued, running, done, failed
    attempts: int
    max_attempts: int
    error: str
    note: str
    result: Any
    created_at: str
    started_at: str | None
    finished_at: str | None

    @classmethod
    def of(cls, job: JobView) -> JobOut:
        return cls(**job.__dict__)


@api.get("/{job_id}", summary="One of your background jobs: status, attempts, error, result")
async def get_job(job_id: str, res: ResourcesDep, account: CurrentAccount) -> JobOut:
    return JobOut.of(await jobs.get(res.db, account.id, job_id))


@api.get("", summary="Your background jobs, newest first")
async def list_jobs(res: ResourcesDep, account: CurrentAccount,
                    limit: int = Query(50, ge=1, le=200)) -> list[JobOut]:
    """Your newest jobs first."""
    return [JobOut.of(j) for j in await jobs.list_for(res.db, account.id, limit=limit)]
