"""The one generation call of the post-production passes (services/pass_jobs.py).

A pass runs in a worker, without the person: it walks the scene's chain (the scene's model,
then its preset's fallbacks, `fallback.plan`) in background mode with `ServerKey()`, so End-to-End
configs are skipped (the server cannot open their keys; docs/user-guide.md, "9. Privacy
Reminder — E2E Keys and Background Jobs"). Every skip and attempt writes a usage row. When
nothing in the chain can run in the background the pass fails with that reason instead of doing
nothing; a provider error that may pass (rate limit, outage, timeout) on the last runnable model
is raised as `RateLimited`, which the job runner retries with back-off.

``build(section, model_id)`` makes the request for one model of the chain (its window decides how
much fits), so the walk is the same whatever the pass asks for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select

from rolecall.providers import ChatEvent, ChatRequest, Connection, ProviderError, Usage, get, protocol_for
from rolecall.services import connections, fallback, premiere, presets, usage
from rolecall.services.connections import E2E_IN_BACKGROUND, ServerKey
from rolecall.services.errors import NotFound, RateLimited, ServiceError
from rolecall.services.generation_errors import GENERATION_TEXTS, RETRYABLE, from_provider
from rolecall.services.resources import Resources
from rolecall.services.scenes import NO_SUCH_SCENE
from rolecall.storage.scene_tables import Scene

Builder = Callable[[str, str], Awaitable[ChatRequest]]


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


async def generate(res: Resources, account_id: str, scene_id: str, build: Builder) -> Generated:
    """The text of one background generation for the scene, through its chain."""
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
    tried: list[int] = []
    last: ProviderError | None = None
    try:
        for entry in walk:
            attempt = usage.Attempt(account_id, entry.section, entry.label, entry.provider_id, entry.model_id,
                                    "skipped", reason=entry.skip, scene_id=scene_id, preset_id=preset_id,
                                    slot_position=entry.position)
            if entry.skip:
                usage.record(res, attempt)
                continue
            tried.append(entry.position)
            clock = usage.Clock()
            try:
                made = await _one(res, account_id, entry, build, attempt)
            except ProviderError as exc:
                last = exc
                attempt.outcome, attempt.error_kind, attempt.reason = "error", exc.kind, exc.message
                attempt.latency_ms = clock.latency_ms
                usage.record(res, attempt)
                continue
            attempt.outcome, attempt.latency_ms = "ok", clock.latency_ms
            attempt.input_tokens, attempt.output_tokens = made.input_tokens, made.output_tokens
            usage.record(res, attempt)
            return made
    finally:
        await fallback.release_unused(res, walk, tried)
    if last is None:  # nothing ran: say why, the End-to-End reason first (the one the person can fix)
        reasons = [e.skip for e in walk]
        raise PassFailed(E2E_IN_BACKGROUND if E2E_IN_BACKGROUND in reasons else reasons[0])
    error = from_provider(last, None)
    if last.kind in RETRYABLE:
        raise RateLimited(error.message, retry_after=int(last.retry_after or 0))
    raise PassFailed(error.message)


async def _one(res: Resources, account_id: str, entry: fallback.Planned, build: Builder,
               attempt: usage.Attempt) -> Generated:
    connection: Connection
    call: premiere.PremiereCall | None = None
    if entry.section == premiere.SECTION:
        call = premiere.open_model(res, entry.model_id)
        connection, http, protocol = call.connection, call.http, get(call.provider_id).protocol
    else:
        opened = await connections.open_config(res, account_id, entry.section, ServerKey())
        connection, http, protocol = opened.connection, res.http, opened.provider.protocol
    request = await build(entry.section, entry.model_id)
    if call is not None:  # the operator's name for the model upstream
        request = dataclasses.replace(request, model=call.upstream_model)
    parts: list[str] = []
    finish: str | None = None
    used: Usage | None = None
    stream = cast("AsyncGenerator[ChatEvent, None]", protocol_for(protocol).stream_chat(connection, request, http))
    async with aclosing(stream) as events:
        async for event in events:
            if event.kind == "text" and event.text:
                parts.append(event.text)
            elif event.kind == "usage":
                used = event.usage
            elif event.kind == "finish":
                finish = event.finish_reason
    text = "".join(parts).strip()
    if call is not None:  # the Premiere Theater's balance pays for what was generated
        prompt_text = "\n".join(m.content for m in request.messages)
        attempt.premiere_tokens, _ = await premiere.charge(res, account_id, call, used, prompt_text, text,
                                                           usage_id=attempt.id)
    if not text:
        raise ProviderError("bad_response", "The model sent an empty reply.")
    return Generated(text, entry.section, entry.model_id, entry.provider_id or None, finish,
                     used.input_tokens if used else None, used.output_tokens if used else None)
