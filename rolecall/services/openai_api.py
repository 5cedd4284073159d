"""The OpenAI-compatible API over a person's own configs: which models a token can reach, and one
chat completion through them (docs/decisions.md, "Issue 14: the OpenAI-compatible API").

```python
route = await openai_api.resolve(res, account_id, "OpenAI personal/gpt-4o-mini")  # ModelNotFound
stream = await openai_api.start_stream(res, account_id, route, request)          # UpstreamFailed
async for event in stream.events(): ...                                           # ChatEvent
result = await openai_api.complete(res, account_id, route, request)
```

Model names: ``<config label>/<model id>`` (the longest label that prefixes the name wins, so
labels and model ids may both hold "/"), ``premiere/<model id>`` and ``preset:<name>``. Only
Server-Accessible configs are reachable: an API call has no browser to hand over an End-to-End
key, so those are left out of the list and answer "not found" with the reason.

A route is a chain of targets walked by `chain_run.ChainRun`, as a scene turn is
(docs/architecture.md, "Generation path"): the next one is tried only when one fails before its
first token; every attempt is a usage-log row, a Premiere answer debits the balance, each call
holds a provider-call slot and the first-token and chain deadlines apply. A preset applies its
chain and its samplers (what the caller's request leaves unset); its system prompt template is
for scenes and is not added to an API caller's own messages. The walk is judged as a background
job's: the server opens every key, so End-to-End slots of a preset are skipped. A stream is
started (first text read) before the caller answers, so a failure before the first token is a
proper HTTP error, not a 200 that breaks.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from sqlalchemy import String, bindparam, func, select

from rolecall.providers import ChatEvent, ChatRequest, ChatResult, protocol_for
from rolecall.providers.protocols.openai_compat import OpenAICompat
from rolecall.services import chain_open, chain_run, connections, fallback, premiere, presets
from rolecall.services.errors import NotFound, ServiceError
from rolecall.services.fallback import Planned
from rolecall.services.prompt import estimate
from rolecall.services.resources import Resources
from rolecall.storage import direct
from rolecall.storage.tables import Preset, ProviderConfig

PREMIERE_PREFIX = "premiere/"
PRESET_PREFIX = "preset:"
MAX_MODEL_NAME = 512
EMPTY: Mapping[str, Any] = MappingProxyType({})
# Resolved names, per process, for a few seconds: a script's burst of calls pays one query. Only
# found configs are kept, so a new config answers at once; an edited or deleted one is seen within
# ROUTE_TTL seconds.
ROUTE_TTL = 5.0
ROUTES_SIZE = 2048
# Keyed per process; the entry names the Resources it was read with (its database and key ring).
_ROUTES: dict[tuple[str, str], tuple[float, weakref.ref[Resources], Route]] = {}
# The config a model name "<label>/<model id>" names: the longest of the account's labels that,
# with a "/", starts the name and leaves a model id after it. The columns opening it reads
# (`connections.COLUMNS`), in one statement straight on the driver (`storage/direct.py`).
_NAME, _LABEL_LENGTH = bindparam("name_", type_=String), func.length(ProviderConfig.label)
_BY_NAME = direct.Query(
    select(*connections.COLUMNS)
    .where(ProviderConfig.account_id == bindparam("account_"),
           func.substr(_NAME, 1, _LABEL_LENGTH + 1) == ProviderConfig.label + "/",
           func.length(_NAME) > _LABEL_LENGTH + 1)
    .order_by(_LABEL_LENGTH.desc()).limit(1))
E2E_UNREACHABLE = ("“{label}” is an end-to-end encrypted config: the server can't open its key for API calls. "
                   "Add a Server-Accessible config for the API.")


class ModelNotFound(NotFound):
    code = "model_not_found"


class UpstreamFailed(ServiceError):
    """Every target of a route failed before its first token; ``kind`` is the last provider error kind
    (`providers.KINDS`, plus "config_broken" for a config that cannot be opened)."""

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.upstream_status = status


@dataclass(frozen=True)
class ApiModel:
    id: str
    created: int
    owned_by: str


@dataclass(frozen=True)
class Target:
    """One step of a route: a config (or "premiere") and the model id to ask it for."""

    section: str
    label: str
    model_id: str

    @property
    def name(self) -> str:
        return f"{self.label}/{self.model_id}"


@dataclass(frozen=True)
class Route:
    """What a model name resolved to. ``loaded`` holds the rows `resolve` read, so opening a target
    needs no second query; only this module reads it."""

    requested: str
    targets: tuple[Target, ...]
    loaded: dict[str, connections.StoredRow] = field(default_factory=dict, compare=False, repr=False)
    preset_id: str | None = None  # a preset's route: its chain, read with it, is judged at call time
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False)  # the preset's samplers
    slots: tuple[presets.Slot, ...] = field(default=(), compare=False, repr=False)  # the preset's chain


def not_found(name: str) -> ModelNotFound:
    return ModelNotFound(f"The model `{name}` does not exist or you do not have access to it.", field="model")


# --- the model list ---------------------------------------------------------------------------

async def list_models(res: Resources, account_id: str) -> list[ApiModel]:
    """Every model the account's Server-Accessible configs list (or pin), as ``label/model id``."""
    async with res.db() as s:
        rows = (await s.execute(select(ProviderConfig.label, ProviderConfig.models, ProviderConfig.options,
                                       ProviderConfig.created_at, ProviderConfig.provider_id)
                                .where(ProviderConfig.account_id == account_id, ProviderConfig.privacy_mode == "srv")
                                .order_by(ProviderConfig.created_at))).all()
    out: list[ApiModel] = []
    for label, models, options, created_at, provider_id in rows:
        ids = [m["id"] for m in models or () if isinstance(m, dict) and isinstance(m.get("id"), str)]
        pinned = options.get("model") if isinstance(options, dict) else None
        if isinstance(pinned, str) and pinned and pinned not in ids:
            ids.insert(0, pinned)
        created = int(created_at.timestamp())
        out += [ApiModel(f"{label}/{model_id}", created, provider_id) for model_id in ids]
    out += [ApiModel(name, 0, "premiere") for name in _premiere_listing(res)]
    async with res.db() as s:
        found = (await s.execute(select(Preset.name, Preset.created_at).where(Preset.account_id == account_id)
                                 .order_by(Preset.name))).all()
    out += [ApiModel(PRESET_PREFIX + name, int(created_at.timestamp()), "preset") for name, created_at in found]
    return out


def _premiere_listing(res: Resources) -> list[str]:
    return [PREMIERE_PREFIX + model.id for model in premiere.offered(res.settings)]


# --- resolving a model name ---------------------------------------------------------------------

async def resolve(res: Resources, account_id: str, name: str) -> Route:
    """The chain of targets for a model name, or `ModelNotFound` (another account's label included)."""
    if not name or len(name) > MAX_MODEL_NAME:
        raise not_found(name[:80])
    if name.startswith(PRESET_PREFIX):
        return await _preset_targets(res, account_id, name)
    if name.startswith(PREMIERE_PREFIX):
        return await _premiere_targets(res, account_id, name)
    cached = _ROUTES.get((account_id, name))
    if cached is not None and cached[0] > time.monotonic() and cached[1]() is res:
        return cached[2]
    row = await direct.first(res.reads, _BY_NAME, {"account_": account_id, "name_": name})
    if row is None:
        raise not_found(name)
    label = row.label
    if row.privacy_mode != "srv":
        raise ModelNotFound(E2E_UNREACHABLE.format(label=label), field="model")
    route = Route(name, (Target(row.id, label, name[len(label) + 1:]),), {row.id: row})
    _ROUTES[(account_id, name)] = (time.monotonic() + ROUTE_TTL, weakref.ref(res), route)
    if len(_ROUTES) > ROUTES_SIZE:
        del _ROUTES[next(iter(_ROUTES))]
    return route


async def _preset_targets(res: Resources, account_id: str, name: str) -> Route:
    """``preset:<name>`` (names compare without case): the preset with its chain and the configs
    the chain names, read together straight on the driver as a scene turn reads its own."""
    wanted = name[len(PRESET_PREFIX):].strip().lower()
    if not wanted:
        raise not_found(name)
    values = {"account": account_id, "wanted": wanted}
    configs: dict[str, connections.StoredRow] = {}
    row, slots = await direct.together(res.reads, direct.first(res.reads, _PRESET_BY_NAME, values),
                                       presets.chain_read(res.reads, _CHAIN_BY_NAME, values, configs))
    if row is None:
        raise not_found(name)
    return Route(name, (), configs, preset_id=row.id, settings=dict(row.settings or {}), slots=tuple(slots))


# The account's preset of that name. Names are kept unique without case by the service, not by the
# database, so two saved at once could share one: the pick is one row, the same for both reads.
_NAMED = (select(Preset.id).where(Preset.account_id == bindparam("account"), func.lower(Preset.name) == bindparam("wanted"))
          .order_by(Preset.id).limit(1).scalar_subquery())
_PRESET_BY_NAME = direct.Query(select(Preset.id, Preset.settings).where(Preset.id == _NAMED))
_CHAIN_BY_NAME = presets.chain_query(_NAMED)


async def _premiere_targets(res: Resources, account_id: str, name: str) -> Route:
    """``premiere/<model id>``: a model the operator offers (its balance is checked when called)."""
    model_id = name[len(PREMIERE_PREFIX):]
    try:
        premiere.find(res.settings, model_id)
    except NotFound:
        raise not_found(name) from None
    return Route(name, (Target(premiere.SECTION, premiere.SECTION, model_id),))


# --- calling ----------------------------------------------------------------------------------

async def _walk(res: Resources, account_id: str, route: Route) -> list[Planned]:
    """The route as a chain walk, judged like a background job's (the server opens every key)."""
    if route.preset_id:
        return await fallback.plan(res, account_id, scene_model=None, preset_id=route.preset_id, background=True,
                                   slots=route.slots, configs=route.loaded)
    entries = []
    for position, target in enumerate(route.targets):
        if target.section == premiere.SECTION:
            entries += [replace(e, position=position) for e in await fallback.plan(
                res, account_id, scene_model=(premiere.SECTION, target.model_id), preset_id=None, background=True)]
            continue
        row = route.loaded[target.section]
        entries.append(Planned(position, row.id, target.model_id, target.label, row.provider_id, row.privacy_mode, row.id))
    return await fallback.judge(res, account_id, entries, background=True)


def _builder(request: ChatRequest, samplers: Mapping[str, Any]) -> chain_run.Builder:
    async def build(target: chain_run.Target) -> ChatRequest:
        window = target.facts.context_window
        if window:
            needed = sum(estimate(m.content) for m in request.messages) + (request.max_tokens or 0)
            if needed > window:
                raise chain_run.Unfit("context_too_long", f"The request needs about {needed:,} tokens; "
                                      f"{target.entry.label} ({target.model_id}) takes {window:,}")
        # OpenAI's own sampler names mean nothing (or something else) to other protocols' bodies.
        openai_style = isinstance(protocol_for(target.provider.protocol), OpenAICompat)
        params = {**request.params, **samplers} if samplers and openai_style else request.params
        return replace(request, model=target.model_id, params=params)
    return build


def _runner(res: Resources, account_id: str, route: Route, walk: list[Planned], request: ChatRequest,
            samplers: Mapping[str, Any]) -> chain_run.ChainRun:
    ctx = chain_run.Context(account_id, preset_id=route.preset_id, settings=route.settings)
    return chain_run.ChainRun(res, ctx, walk, _builder(request, samplers), connections.ServerKey(), background=True,
                              loaded=route.loaded)


def _target(hop: chain_open.Hop) -> Target:
    if hop.call is not None:
        return Target(premiere.SECTION, premiere.SECTION, hop.entry.model_id)
    return Target(hop.section, hop.label, hop.entry.model_id)


def _failure(run: chain_run.ChainRun, failed: chain_run.Failed) -> ServiceError:
    """The walk's end without a reply, as the API reports it (the last provider's own words)."""
    error = failed.error
    if failed.partial and failed.hop is not None:  # the stream broke after its first token
        return UpstreamFailed(error.kind, _answered(failed.hop.entry, error.kind, failed.detail), retry_after=error.retry_after)
    tried = [m for m in run.misses if m.tried]
    if not tried:
        if run.misses and all(m.kind == "key_unavailable" for m in run.misses):
            return ModelNotFound(E2E_UNREACHABLE.format(label=run.misses[0].entry.label), field="model")
        main = next((m for m in run.misses if m.error is error), run.misses[0] if run.misses else None)
        prefix = f"“{_name(main.entry)}”: " if main is not None and len(run.misses) == 1 else ""
        return UpstreamFailed(error.kind, prefix + error.message, retry_after=error.retry_after)
    last = tried[-1]
    return UpstreamFailed(last.kind, _answered(last.entry, last.kind, last.reason), retry_after=error.retry_after,
                          status=last.status)


def _name(entry: Planned) -> str:
    return entry.label if entry.section != premiere.SECTION else f"{premiere.LABEL} ({entry.model_id})"


def _answered(entry: Planned, kind: str, detail: str) -> str:
    text = detail or kind.replace("_", " ")
    if kind == "auth":  # the runner marked the config Invalid (user guide, "8. Maintenance Tips")
        text += (f" RoleCall marked “{entry.label}” Invalid: open Settings → API Keys, paste a current key and "
                 "click Test Key.")
    return f"The provider of “{_name(entry)}” answered: {text}"


async def complete(res: Resources, account_id: str, route: Route, request: ChatRequest,
                   samplers: Mapping[str, Any] = EMPTY) -> tuple[Target, ChatResult]:
    """A whole answer from the first target that gives one (streamed upstream, so the first-token
    deadline and the fallback rule are the same as for a stream)."""
    run = _runner(res, account_id, route, await _walk(res, account_id, route), request, samplers)
    reasoning: list[str] = []
    async with aclosing(run.events()) as events:
        async for event in events:
            if event.name == "skipped":
                reasoning.clear()  # thinking of a model that then failed is not part of the answer
            elif event.name == "reasoning":
                reasoning.append(event.data)
            elif event.name == "done":
                done: chain_run.Finished = event.data
                result = ChatResult(done.text, "".join(reasoning), done.usage, done.finish_reason, done.hop.entry.model_id)
                return _target(done.hop), result
            elif event.name == "error":
                raise _failure(run, event.data)
    raise AssertionError("the walk ends with done or error")


class Stream:
    """A started stream: its first text is already in hand; `events()` yields it and the rest."""

    def __init__(self, run: chain_run.ChainRun, target: Target, first: list[ChatEvent],
                 rest: AsyncGenerator[chain_run.Event, None]) -> None:
        self.run, self.target = run, target
        self._first, self._rest = first, rest

    async def events(self) -> AsyncIterator[ChatEvent]:
        """The events; a failure after the first token raises `UpstreamFailed` (no fallback then)."""
        try:
            for event in self._first:
                yield event
            async for item in self._rest:
                if item.name == "delta":
                    yield ChatEvent("text", item.data)
                elif item.name == "reasoning":
                    yield ChatEvent("reasoning", item.data)
                elif item.name == "done":
                    done: chain_run.Finished = item.data
                    if done.usage is not None:
                        yield ChatEvent("usage", usage=done.usage)
                    yield ChatEvent("finish", finish_reason=done.finish_reason)
                elif item.name == "error":
                    raise _failure(self.run, item.data)
        finally:
            await self.close()

    async def close(self) -> None:
        await self._rest.aclose()


async def start_stream(res: Resources, account_id: str, route: Route, request: ChatRequest,
                       samplers: Mapping[str, Any] = EMPTY) -> Stream:
    """Walk the route until a target sends its first text; `UpstreamFailed` when none does."""
    run = _runner(res, account_id, route, await _walk(res, account_id, route), request, samplers)
    events = run.events()
    thinking: list[ChatEvent] = []
    try:
        async for event in events:
            if event.name == "skipped":
                thinking.clear()
            elif event.name == "reasoning":
                thinking.append(ChatEvent("reasoning", event.data))
            elif event.name == "start":
                target = _target(event.data)
                first = await anext(events)  # the first text, right behind its start
                return Stream(run, target, [*thinking, ChatEvent("text", first.data)], events)
            elif event.name == "error":
                raise _failure(run, event.data)
    except BaseException:
        await events.aclose()
        raise
    raise AssertionError("the walk ends with done or error")
