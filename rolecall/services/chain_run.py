"""Walking a fallback chain for one generation, whatever asked for it (a scene turn, an API call, a
post-production pass): docs/architecture.md, "Generation path".

```python
async def build(target: chain_run.Target) -> ChatRequest:     # per model: fit its window here
    if target.facts.context_window and needed > target.facts.context_window:
        raise chain_run.Unfit("context_too_long", "The summary prompt does not fit this model's window.")
    return ChatRequest(messages, model=target.model_id, max_tokens=600)

# A scene's preset (and its own model first), from a background job: the server's keys only.
run = await chain_run.for_preset(res, account_id, build, preset_id=await presets.scene_preset_id(
    res.db, account_id, scene_id), scene_model=(section, model_id), scene_id=scene_id)
finished = await run.text()        # the reply (`Finished`: text, usage, hop), or raises `ChainFailed`
async for event in run.events():   # or the events: skipped | calling | start | delta | reasoning | done | error
    ...
```

`for_preset` plans the walk (`fallback.plan`) and reads the preset's samplers; the pieces are
public for callers that plan their own walk: ``ChainRun(res, Context(...), walk, build, keys)``.

For each entry of the walk, in order: a planned skip is logged and announced; otherwise the
entry is opened (the Premiere Theater with the operator's key, a config with the caller's key:
an End-to-End config whose key was not handed over is a skip), its request is built (``build``
may refuse with `Unfit`: the turn does not fit the window, the model lacks vision), the preset's
samplers are applied (`services.samplers`), and the call goes out under a provider-call slot.
An error before the first token (any provider error, a first-token timeout, an empty answer)
is counted by the breaker, logged as an ``error`` attempt, announced as ``skipped``, and the
walk moves on; the person sees one reply. After the first token there is no fallback: a broken
stream ends with ``error`` carrying the partial text (attempt ``interrupted``), a Stop or a
server shutdown logs ``cancelled``. One overall deadline (``[limits] chain_deadline``) bounds
the wait for a first token across the whole walk.

Every attempt is one usage-log row (`services.usage`), written off the hot path; a Premiere
attempt that produced text debits the balance against its row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
from sqlalchemy import select

from rolecall.net import origin_of
from rolecall.providers import ChatEvent, ChatRequest, Provider, ProviderError, Usage, protocol_for
from rolecall.services import breaker, connections, fallback, premiere, provider_configs, samplers, usage
from rolecall.services.chain_errors import Miss, final_error, skip_error
from rolecall.services.chain_open import Hop, Keys, Opener
from rolecall.services.errors import RateLimited
from rolecall.services.fallback import Planned
from rolecall.services.generation_errors import (
    GenerationError,
    busy,
    first_token_timeout,
    from_provider,
    refusal,
)
from rolecall.services.model_facts import ModelFacts, lookup
from rolecall.services.resources import Resources
from rolecall.storage.tables import Preset

_SERVER_KEY = connections.ServerKey()
DEADLINE_PASSED = "Not tried: the chain's overall deadline of {s} had passed"


class Unfit(Exception):
    """Raised by a request builder: this model cannot take the turn (``kind``: context_too_long, no_vision)."""

    def __init__(self, kind: str, reason: str, error: GenerationError | None = None) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.error = kind, reason, error


@dataclass(frozen=True)
class Context:
    """Who generates, for the usage log, and the preset's sampler settings."""

    account_id: str
    scene_id: str | None = None
    preset_id: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """What a request builder gets: the entry and what is known of its model."""

    entry: Planned
    facts: ModelFacts
    provider: Provider

    @property
    def model_id(self) -> str:
        return self.entry.model_id


@dataclass(frozen=True)
class Finished:
    text: str
    finish_reason: str | None
    usage: Usage | None
    hop: Hop
    usage_id: str


@dataclass(frozen=True)
class Failed:
    """The walk's end without a reply: ``error`` for the page, ``partial`` text when it broke mid-stream."""

    error: GenerationError
    partial: str = ""
    hop: Hop | None = None
    detail: str = ""  # the provider's own words (cleared of secrets) when the stream broke


class ChainFailed(Exception):
    def __init__(self, failed: Failed) -> None:
        super().__init__(failed.error.message)
        self.failed = failed


@dataclass(frozen=True)
class Event:
    """``skipped`` (dict), ``calling`` (Hop: before its call; the first one is where a turn stores
    the person's message), ``start`` (Hop: its first token is in hand), ``delta`` (text),
    ``reasoning`` (text: a reasoning model's thinking, before or between deltas; a hop that fails
    before its first token may have sent some), ``done`` (Finished), ``error`` (Failed)."""

    name: str
    data: Any


Builder = Callable[[Target], Awaitable[ChatRequest]]


class ChainRun:
    def __init__(self, res: Resources, ctx: Context, walk: Sequence[Planned], build: Builder,
                 keys: connections.Key | Keys, *, background: bool = False,
                 loaded: Mapping[str, connections.StoredRow] | None = None) -> None:
        """``loaded``: config rows the caller already read, by id (opened without a second query)."""
        self.res, self.ctx, self.walk, self.build = res, ctx, list(walk), build
        self.opener = Opener(res, ctx.account_id, self.walk, keys, background=background, loaded=loaded)
        self.background = background
        self.misses: list[Miss] = []
        self.calls = 0

    # --- the walk -----------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[Event, None]:
        """The walk's events; it ends with ``done`` or ``error`` and never raises for a failed call."""
        rules = self.res.limits.rules
        deadline = time.monotonic() + rules.chain_deadline
        tried: list[int] = []
        try:
            await self.opener.preload()
            for entry in self.walk:
                if entry.skip:
                    yield self._skip(entry, entry.skip_kind, entry.skip, skip_error(entry, self.background))
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    reason = DEADLINE_PASSED.format(s=_seconds(rules.chain_deadline))
                    yield self._skip(entry, "deadline", reason, first_token_timeout(rules.chain_deadline, None))
                    continue
                opened = await self.opener.open(entry)
                if isinstance(opened, Miss):
                    yield self._skip(entry, opened.kind, opened.reason, opened.error)
                    continue
                facts = await lookup(self.res.db, self.res.settings, entry.section, entry.model_id)
                try:
                    request = await self.build(Target(entry, facts, opened.provider))
                except Unfit as exc:
                    yield self._skip(entry, exc.kind, exc.reason, exc.error or refusal(exc.kind, message=exc.reason))
                    continue
                if opened.call is not None:  # the operator's name for the model upstream
                    request = dataclasses.replace(request, model=opened.call.upstream_model)
                mapped = samplers.apply(request, self.ctx.settings, opened.provider)
                tried.append(entry.position)
                outcome: list[Finished | Failed] = []
                async with aclosing(self._call(opened, mapped, min(rules.first_token_deadline, remaining),
                                               outcome)) as hop_events:
                    async for event in hop_events:
                        yield event
                if outcome:
                    yield Event("done" if isinstance(outcome[0], Finished) else "error", outcome[0])
                    return
            yield Event("error", Failed(final_error(self.misses, self.background)))
        finally:
            with anyio.CancelScope(shield=True):
                await fallback.release_unused(self.res, self.walk, tried)

    async def text(self) -> Finished:
        """Run the walk to its end: the reply, or `ChainFailed`."""
        async with aclosing(self.events()) as events:
            async for event in events:
                if event.name == "done":
                    return cast(Finished, event.data)
                if event.name == "error":
                    raise ChainFailed(event.data)
        raise AssertionError("the walk ends with done or error")

    # --- one call -------------------------------------------------------------------------------

    async def _call(self, hop: Hop, mapped: samplers.Mapped, first_token_wait: float,
                    outcome: list[Finished | Failed]) -> AsyncGenerator[Event, None]:
        """One hop's events; a miss before the first token appends nothing (the walk goes on)."""
        entry, request = hop.entry, mapped.request
        attempt = self._attempt(hop, mapped.note)
        clock = usage.Clock()
        async with AsyncExitStack() as held:
            try:  # a provider-call slot for this attempt, taken before anything goes out
                await held.enter_async_context(self.res.limits.slot(self.ctx.account_id,
                                                                     origin_of(hop.connection.base_url)))
            except RateLimited as exc:
                if entry.verdict is not None:  # a probe claim this walk will not use
                    await breaker.release_probe(self.res.cache, entry.verdict)
                yield self._skip(entry, "busy", exc.message, busy(exc.message, exc.retry_after))
                return
            yield Event("calling", hop)
            self.calls += 1
            parts: list[str] = []
            finish: str | None = None
            used: Usage | None = None
            first_token = asyncio.timeout(first_token_wait)
            upstream = cast("AsyncGenerator[ChatEvent, None]",
                            protocol_for(hop.provider.protocol).stream_chat(hop.connection, request, hop.http))
            failure: ProviderError | None = None
            waited_out = False
            try:
                async with first_token, aclosing(upstream) as stream:
                    async for event in stream:
                        if event.kind == "text":
                            if not event.text:
                                continue
                            if not parts:
                                first_token.reschedule(None)
                                clock.first_token()
                                parts.append(event.text)
                                yield Event("start", hop)
                            else:
                                parts.append(event.text)
                            yield Event("delta", event.text)
                        elif event.kind == "reasoning" and event.text:
                            yield Event("reasoning", event.text)
                        elif event.kind == "usage":
                            used = event.usage
                        elif event.kind == "finish":
                            finish = event.finish_reason
            except ProviderError as exc:
                failure = exc
            except TimeoutError:
                if not first_token.expired():
                    raise
                failure, waited_out = ProviderError("timeout", message=f"no text within {_seconds(first_token_wait)}"), True
            except BaseException:  # Stop (the client went away) or the server stopping
                with anyio.CancelScope(shield=True):
                    if entry.verdict is not None:
                        await breaker.release_probe(self.res.cache, entry.verdict)
                    await self._settle(hop, attempt, clock, "cancelled", request, parts, used)
                raise
            if failure is not None:
                with anyio.CancelScope(shield=True):
                    await breaker_failure(self.res, entry, failure)
                error = (first_token_timeout(first_token_wait, hop.config_id) if waited_out
                         else from_provider(failure, hop.config_id))
                if failure.kind == "auth" and hop.config_id:  # a live auth error turns the pill Invalid
                    await provider_configs.mark_invalid(self.res.db, hop.config_id, error.message)
                attempt.error_kind, attempt.reason = failure.kind, failure.message or error.message
                if parts:
                    await self._settle(hop, attempt, clock, "interrupted", request, parts, used)
                    outcome.append(Failed(error, "".join(parts), hop, failure.message))
                    return
                await self._settle(hop, attempt, clock, "error", request, parts, used)
                yield self._missed(entry, failure.kind, failure.message or error.message, error, tried=True,
                                   status=failure.status)
                return
            if not parts:
                text = "The model sent an empty reply" + (f" (finish reason: {finish})" if finish else "")
                error = GenerationError("bad_response", "Empty reply", text + ". Try again or pick another model.",
                                        hop.config_id)
                attempt.error_kind, attempt.reason = "bad_response", text
                await breaker_failure(self.res, entry, ProviderError("bad_response", text))  # a probe's answer all the same
                await self._settle(hop, attempt, clock, "error", request, parts, used)
                yield self._missed(entry, "bad_response", text, error, tried=True)
                return
            if entry.verdict is not None:
                await breaker.record_success(self.res.cache, entry.verdict)
            await self._settle(hop, attempt, clock, "ok", request, parts, used)
            outcome.append(Finished("".join(parts), finish, used, hop, attempt.id))

    async def _settle(self, hop: Hop, attempt: usage.Attempt, clock: usage.Clock, outcome: str,
                      request: ChatRequest, parts: list[str], used: Usage | None) -> None:
        attempt.outcome = outcome
        attempt.latency_ms, attempt.ttft_ms = clock.latency_ms, clock.ttft_ms
        if used is not None:
            attempt.input_tokens, attempt.output_tokens = used.input_tokens, used.output_tokens
        if hop.call is not None and parts:  # only text the upstream produced costs Premiere tokens
            prompt = "\n".join(m.content for m in request.messages)
            tokens, _ = await premiere.charge(self.res, self.ctx.account_id, hop.call, used, prompt, "".join(parts),
                                              usage_id=attempt.id)
            attempt.premiere_tokens = tokens
        usage.record(self.res, attempt)

    def _attempt(self, hop: Hop, note: str) -> usage.Attempt:
        call = hop.call
        price = ((call.input_price, call.output_price) if call is not None and call.input_price is not None
                 and call.output_price is not None else None)
        return usage.Attempt(self.ctx.account_id, hop.section, hop.label, hop.provider.id, hop.entry.model_id, "ok",
                             reason=note, scene_id=self.ctx.scene_id, preset_id=self.ctx.preset_id,
                             slot_position=hop.entry.position, known_price=price)

    # --- skips and the final error ------------------------------------------------------------------

    def _skip(self, entry: Planned, kind: str, reason: str, error: GenerationError) -> Event:
        """Log a skip (nothing went upstream) and announce it."""
        usage.record(self.res, usage.Attempt(
            self.ctx.account_id, entry.section or "", entry.label, entry.provider_id, entry.model_id, "skipped",
            error_kind=kind, reason=reason, scene_id=self.ctx.scene_id, preset_id=self.ctx.preset_id,
            slot_position=entry.position))
        return self._missed(entry, kind, reason, error, tried=False)

    def _missed(self, entry: Planned, kind: str, reason: str, error: GenerationError, *, tried: bool,
                status: int | None = None) -> Event:
        self.misses.append(Miss(entry, kind, reason, error, tried, status))
        return Event("skipped", {"position": entry.position, "label": entry.label, "model": entry.model_id,
                                 "kind": kind, "reason": reason})

async def breaker_failure(res: Resources, entry: Planned, exc: ProviderError) -> None:
    if entry.verdict is not None:
        await breaker.record_failure(res.cache, entry.verdict, exc.kind, retry_after=exc.retry_after,
                                     policy=breaker.policy_of(res.settings))


def _seconds(value: float) -> str:
    seconds = max(1, round(value))
    return "1 second" if seconds == 1 else f"{seconds} seconds"


async def for_preset(res: Resources, account_id: str, build: Builder, *, preset_id: str | None,
                     scene_model: tuple[str, str] | None = None, scene_id: str | None = None,
                     keys: connections.Key | Keys = _SERVER_KEY, background: bool = True) -> ChainRun:
    """A runner over a preset's chain (after ``scene_model``, when given), with its samplers.

    ``background`` defaults to True: a caller without a browser request holds no End-to-End key.
    """
    walk = await fallback.plan(res, account_id, scene_model=scene_model, preset_id=preset_id, background=background)
    settings: dict[str, Any] = {}
    if preset_id is not None:
        async with res.db() as s:
            settings = dict(await s.scalar(select(Preset.settings).where(
                Preset.id == preset_id, Preset.account_id == account_id)) or {})
    return ChainRun(res, Context(account_id, scene_id, preset_id, settings), walk, build, keys, background=background)
