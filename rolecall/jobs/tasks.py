"""Named background jobs. A job loads what it needs, calls one service, and returns a small
JSON-able summary (kept on the job's row as its result).

Start one with `services.jobs.submit(res, name, params, account_id=..., key=...)`; the queue
only ever carries `run_job(job_id)` (`jobs.runner`), which looks the name up here.
"""

from __future__ import annotations

from typing import Any

from rolecall.jobs.runner import FailureHook, Runner
from rolecall.services import accounts, group_turns, model_refresh, pass_jobs, passes
from rolecall.services.jobs import RUN_JOB
from rolecall.services.resources import Resources
from rolecall.storage.queue import Job, JobQueue


async def purge_expired_sessions(res: Resources) -> dict[str, Any]:
    return {"purged": await accounts.purge_expired_sessions(res.db)}


async def refresh_models(res: Resources, config_id: str) -> dict[str, Any]:
    return await model_refresh.refresh(res, config_id)


async def group_turn(res: Resources, account_id: str, scene_id: str, position: int, round: int) -> dict[str, Any]:
    """One auto-responder turn of a group scene (services.group_turns)."""
    return await group_turns.run_turn(res, account_id, scene_id, position, round)


async def group_turn_failed(res: Resources, reason: str, account_id: str, scene_id: str, position: int,
                            round: int) -> None:
    """A turn that failed for good ends its round, so the panel does not wait for turns forever."""
    await group_turns.turn_gave_up(res, scene_id, position, round, reason)


async def summarize_scene(res: Resources, account_id: str, scene_id: str) -> dict[str, Any]:
    return await pass_jobs.summarize(res, account_id, scene_id)


async def polish_reply(res: Resources, account_id: str, scene_id: str, message_id: str) -> dict[str, Any]:
    return await pass_jobs.polish(res, account_id, scene_id, message_id)


async def regenerate_reply(res: Resources, account_id: str, scene_id: str, message_id: str) -> dict[str, Any]:
    return await pass_jobs.regenerate(res, account_id, scene_id, message_id)


JOBS: dict[str, Job] = {
    "purge_expired_sessions": purge_expired_sessions,
    "refresh_models": refresh_models,
    group_turns.TURN_JOB: group_turn,
    passes.SUMMARY_JOB: summarize_scene,
    passes.POLISH_JOB: polish_reply,
    passes.REGENERATE_JOB: regenerate_reply,
}

# Run once a job has failed for good (services.jobs.fail), with the reason its owner sees.
ON_FAILURE: dict[str, FailureHook] = {group_turns.TURN_JOB: group_turn_failed}


def register_all(queue: JobQueue, table: dict[str, Job] | None = None) -> Runner:
    """Put the runner on the queue; the runner (for the upkeep loop) is returned."""
    runner = Runner(JOBS if table is None else table, ON_FAILURE)
    queue.register(RUN_JOB, runner.run_job)
    return runner
