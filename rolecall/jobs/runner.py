"""Runs one delivered job under its row's lease, and keeps every worker's upkeep loop.

`run_job` is the only function the queue knows: it claims the row, runs the named job while a
heartbeat renews the lease, and records the outcome. A job that raises a `ServiceError` (other
than a rate limit) fails at once with that error's message: the state it describes, such as an
End-to-End key a background job cannot open (`connections.KeyUnavailable`), will not change by
trying again. Any other exception is retried with a doubling delay until ``max_attempts``.
A job's final failure (at once, after its last retry, or when the sweeper gives up on a job
whose worker vanished every time) runs the job's failure hook, if it has one, with the reason:
a group turn's ends its round (`services.group_turns.turn_gave_up`).

`upkeep` runs in every consuming process: it re-delivers jobs whose worker vanished and fires
due schedules (`services.schedules.claim_due`), each once however many workers run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rolecall.services import jobs, schedules
from rolecall.services.errors import RateLimited, ServiceError
from rolecall.services.resources import Resources
from rolecall.storage.queue import Job

log = logging.getLogger(__name__)
MAX_RETRY_DELAY = 300.0
FAILED = "The job failed ({kind}) and was not retried again."
# Called as hook(res, reason, **params) once a job has failed for good.
FailureHook = Callable[..., Awaitable[None]]


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"


class Runner:
    def __init__(self, table: Mapping[str, Job], on_failure: Mapping[str, FailureHook] | None = None) -> None:
        self.table = table
        self.on_failure = on_failure or {}
        self.owner = worker_name()

    async def run_job(self, res: Resources, job_id: str) -> None:
        lease_seconds = res.settings.jobs.lease_seconds
        claimed = await jobs.claim(res.db, job_id, self.owner, lease_seconds)
        if claimed is None:  # done, failed, not due yet, or another worker holds it
            return
        lease = jobs.Lease(job_id, self.owner)
        job = self.table.get(claimed.name)
        if job is None:
            await jobs.fail(res.db, lease, f"This server has no job named {claimed.name!r}.")
            return
        work = asyncio.create_task(self._call(res, lease, job, claimed))
        beat = asyncio.create_task(self._heartbeat(res, lease, work))
        try:
            value = await work
        except asyncio.CancelledError:
            if beat.done() and beat.result() is False:  # lease lost: another worker owns it now
                log.warning("job %s lost its lease and was stopped here", job_id)
                return
            raise
        except Exception as exc:
            await self._failed(res, lease, claimed, exc)
            return
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        if not await jobs.finish(res.db, lease, value):
            log.warning("job %s finished after losing its lease; its result was not recorded", job_id)

    async def _call(self, res: Resources, lease: jobs.Lease, job: Job, claimed: jobs.Claimed) -> Any:
        async with jobs.running(res.db, lease, claimed.progress):
            return await job(res, **claimed.params)

    async def _heartbeat(self, res: Resources, lease: jobs.Lease, work: asyncio.Task[Any]) -> bool:
        lease_seconds = res.settings.jobs.lease_seconds
        while True:
            await asyncio.sleep(lease_seconds / 3)
            if not await jobs.renew(res.db, lease, lease_seconds):
                work.cancel()
                return False

    async def _failed(self, res: Resources, lease: jobs.Lease, claimed: jobs.Claimed, exc: Exception) -> None:
        if isinstance(exc, ServiceError) and not isinstance(exc, RateLimited):
            if await jobs.fail(res.db, lease, exc.message):
                await self._gave_up(res, claimed.name, claimed.params, exc.message)
            return
        kind = exc.message if isinstance(exc, ServiceError) else type(exc).__name__
        # The type only: an exception's text may carry what the job was handling.
        log.warning("job %s (%s) attempt %d failed: %s", claimed.id, claimed.name, claimed.attempt, kind)
        if claimed.attempt >= claimed.max_attempts:
            reason = FAILED.format(kind=kind)
            if await jobs.fail(res.db, lease, reason):
                await self._gave_up(res, claimed.name, claimed.params, reason)
            return
        delay = min(res.settings.jobs.retry_delay * 2 ** (claimed.attempt - 1), MAX_RETRY_DELAY)
        if await jobs.retry_later(res.db, lease, f"Attempt {claimed.attempt} failed ({kind}); retrying.", delay):
            await jobs.deliver(res, claimed.id, claimed.attempt, delay)

    async def _gave_up(self, res: Resources, name: str, params: Mapping[str, Any], reason: str) -> None:
        hook = self.on_failure.get(name)
        if hook is None:
            return
        try:
            await hook(res, reason, **params)
        except Exception:  # the job's row already says why it failed
            log.exception("the failure hook of a %s job failed", name)

    async def tick(self, res: Resources) -> None:
        """One round of upkeep: lost jobs back to the queue (or failed for good), due schedules fired."""
        stale_after = max(res.settings.jobs.lease_seconds, 2 * res.settings.jobs.tick_seconds)
        swept = await jobs.sweep(res.db, stale_queued_after=stale_after)
        for job_id, attempt in swept.again:
            await jobs.deliver(res, job_id, attempt, again=True)
        for failed in swept.gave_up:
            await self._gave_up(res, failed.name, failed.params, failed.error)
        for job_id in await schedules.claim_due(res.db, max_attempts=res.settings.jobs.max_attempts):
            await jobs.deliver(res, job_id, 0)

    async def upkeep(self, res: Resources) -> None:
        while True:
            try:
                await self.tick(res)
            except Exception:  # a database blip must not end the loop
                log.exception("job upkeep failed; trying again")
            await asyncio.sleep(res.settings.jobs.tick_seconds)
