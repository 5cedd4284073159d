"""The one generation call of the post-production passes (services/pass_jobs.py).

A pass runs in a worker, without the person: it walks the scene's chain (the scene's model,
then its preset's fallbacks, `fallback.plan`) through the shared runner (`chain_run.ChainRun`) in
background mode with `ServerKey()`, so End-to-End configs are skipped with a usage row (the
server cannot open their keys; docs/user-guide.md, "9. Privacy Reminder — E2E Keys and
Background Jobs"). When nothing in the chain can run in the background the pass fails with that
reason instead of doing nothing; when the models that were called failed with an error that may
pass (rate limit, outage, timeout), it is raised as `RateLimited`, which the job runner retries
with back-off.

``build(target)`` makes the request for one model of the chain (its window, `target.facts`,
decides how much fits; `chain_run.Unfit` moves on to the next model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from rolecall.services import chain_run, fallback, presets
from rolecall.services.chain_run import Builder, ChainFailed, ChainRun, Target, Unfit
from rolecall.services.connections import ServerKey
from rolecall.services.errors import NotFound, RateLimited, ServiceError
from rolecall.services.generation_errors import GENERATION_TEXTS
from rolecall.services.resources import Resources
from rolecall.services.scenes import NO_SUCH_SCENE
from rolecall.storage.scene_tables import Scene

__all__ = ["Builder", "Generated", "PassFailed", "Target", "Unfit", "generate"]


class PassFailed(ServiceError):
    """The pass cannot run as things stand (no model, only End-to-End keys, a refused request)."""

    status = 409
    code = "pass_failed"


@dataclass(frozen=True)
class Generated:
    text: str
    section: str
    model_id: str
    provider_id: str | None
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None


async def generate(res: Resources, account_id: str, scene_id: str, build: Builder, *,
                   settings: Mapping[str, Any] | None = None) -> Generated:
    """The text of one background generation for the scene, through its chain. ``settings``: the
    preset's samplers to apply (a regeneration is a turn; a summary or a polish is not)."""
    async with res.db() as s:
        model = (await s.execute(select(Scene.model_section, Scene.model_id)
                                 .where(Scene.id == scene_id, Scene.account_id == account_id))).first()
    if model is None:
        raise NotFound(NO_SUCH_SCENE)
    preset_id = await presets.scene_preset_id(res.db, account_id, scene_id)
    scene_model = (model[0], model[1]) if model[0] and model[1] else None
    walk = await fallback.plan(res, account_id, scene_model=scene_model, preset_id=preset_id, background=True)
    if not walk:
        raise PassFailed(GENERATION_TEXTS["no_model"])
    ctx = chain_run.Context(account_id, scene_id, preset_id, dict(settings or {}))
    run = ChainRun(res, ctx, walk, build, ServerKey(), background=True)
    try:
        done = await run.text()
    except ChainFailed as exc:
        error = exc.failed.error
        if run.calls and error.retryable:
            raise RateLimited(error.message, retry_after=int(error.retry_after or 0)) from None
        raise PassFailed(error.message) from None
    used = done.usage
    return Generated(done.text.strip(), done.hop.section, done.hop.entry.model_id, done.hop.provider.id,
                     done.finish_reason, used.input_tokens if used else None, used.output_tokens if used else None)
