"""The job queue: the one module that knows the task-queue library (arq).

With REDIS_URL, jobs go through arq's Redis queue: any number of `rolecall worker` processes (or
`serve` replicas with the embedded worker on) share the load, and a job whose worker dies is
retried. Without Redis there is exactly one process, so jobs run in it as asyncio tasks: the
embedded worker of the zero-setup default.

Jobs are plain ``async def job(ctx, **params)`` functions; ``ctx`` is whatever the caller hands
to ``start()`` (the process's resources), so job modules never build their own connections.
Parameters must be JSON-like values: with Redis they are serialized.

The queue only delivers, at least once: which job runs, whether it already ran and how often it
may be tried are decided by the job row (`services.jobs`), so arq's own retries are off
(``max_tries=1``) and its timeout is only a backstop; the row's lease notices a dead worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func

log = logging.getLogger(__name__)
Job = Callable[..., Awaitable[Any]]
JOB_TIMEOUT = 6 * 3600  # a backstop only: a job's liveness is its row's lease


class JobQueue:
    def __init__(self, redis_url: str | None, name: str = "rolecall:jobs") -> None:
        self.redis_url = redis_url
        self.name = name
        self._jobs: dict[str, Job] = {}
        self._ctx: Any = None
        self._pool: ArqRedis | None = None
        self._worker: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[Any]] = set()

    def register(self, name: str, job: Job) -> None:
        self._jobs[name] = job

    async def start(self, ctx: Any, *, consume: bool) -> None:
        """Open the queue. ``consume``: also run jobs in this process (embedded worker)."""
        self._ctx = ctx
        if self.redis_url is None:
            return
        self._pool = await create_pool(RedisSettings.from_dsn(self.redis_url), default_queue_name=self.name)
        if consume:
            self._worker = Worker(
                [func(self._adapt(job), name=name) for name, job in self._jobs.items()],
                queue_name=self.name, redis_pool=self._pool, handle_signals=False,
                poll_delay=0.05, max_tries=1, keep_result=60, job_timeout=JOB_TIMEOUT,
            )
            self._worker_task = asyncio.create_task(self._worker.async_run())

    def _adapt(self, job: Job) -> Any:  # arq types its coroutines loosely
        # arq hands every job its own context dict; ours is the process's resources.
        async def run(_arq_ctx: dict[str, Any], **params: Any) -> Any:
            return await job(self._ctx, **params)

        return run

    async def enqueue(self, name: str, *, _job_id: str | None = None, _defer_by: float = 0.0, **params: Any) -> None:
        """Deliver one call of job ``name``. ``_job_id``: arq ignores a second enqueue with the
        same id while the first is known; ``_defer_by``: seconds to wait before it runs."""
        if name not in self._jobs:
            raise KeyError(f"no job named {name!r}")
        if self._pool is not None:
            await self._pool.enqueue_job(name, _queue_name=self.name, _job_id=_job_id,
                                         _defer_by=_defer_by or None, **params)
            return
        task = asyncio.create_task(self._run_here(name, params, _defer_by))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run_here(self, name: str, params: dict[str, Any], delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            await self._jobs[name](self._ctx, **params)
        except Exception:
            log.exception("job %s failed", name)

    async def drain(self) -> None:
        """Wait for in-process jobs started so far (tests and graceful shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def stop(self) -> None:
        await self.drain()
        if self._worker is not None and self._worker_task is not None:
            self._worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker_task
            # Let jobs already taken finish; arq's own close() would also close our shared pool.
            await asyncio.gather(*self._worker.tasks.values(), return_exceptions=True)
            self._worker = self._worker_task = None
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
