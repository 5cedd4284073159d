"""Named background jobs. A job loads what it needs, calls one service, and returns."""

from __future__ import annotations

from rolecall.services import accounts, catalog
from rolecall.services.resources import Resources
from rolecall.storage.queue import Job, JobQueue


async def purge_expired_sessions(res: Resources) -> int:
    return await accounts.purge_expired_sessions(res.db)


async def refresh_models(res: Resources, config_id: str) -> None:
    await catalog.refresh(res, config_id)


JOBS: dict[str, Job] = {
    "purge_expired_sessions": purge_expired_sessions,
    "refresh_models": refresh_models,
}


def register_all(queue: JobQueue) -> None:
    for name, job in JOBS.items():
        queue.register(name, job)
