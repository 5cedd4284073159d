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

A route is a chain of targets; the next one is tried only when one fails before its first token
(docs/architecture.md, "Generation path"). A stream is started (first event read) before the
caller answers, so a failure before the first token is a proper HTTP error, not a 200 that breaks.

Seams for what is not on main yet: `_premiere_targets` and `_preset_targets` (the hosted models and
presets' fallback chains) and `_record` (the usage log and the Premiere balance).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import defer

from rolecall.providers import Adapter, ChatEvent, ChatRequest, ChatResult, ProviderError, Usage, protocol_for
from rolecall.providers.protocols.openai_compat import OpenAICompat
from rolecall.services import connections, provider_configs
from rolecall.services.errors import NotFound, ServiceError
from rolecall.services.resources import Resources
from rolecall.services.stored_config import StoredConfigCorrupt
from rolecall.storage.tables import ProviderConfig

PREMIERE_PREFIX = "premiere/"
PRESET_PREFIX = "preset:"
MAX_MODEL_NAME = 512
EMPTY: Mapping[str, Any] = MappingProxyType({})
# Resolved names, per process, for a few seconds: a script's burst of calls pays one query (on a
# loaded machine each query costs several thread hops). Only found configs are kept, so a new
# config answers at once; an edited or deleted one is seen within ROUTE_TTL seconds.
ROUTE_TTL = 5.0
ROUTES_SIZE = 2048
# Keyed per process; the entry names the Resources it was read with (its database and key ring).
_ROUTES: dict[tuple[str, str], tuple[float, weakref.ref[Resources], Route]] = {}
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
    loaded: dict[str, ProviderConfig] = field(default_factory=dict, compare=False, repr=False)


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
    return out


def _premiere_listing(res: Resources) -> list[str]:
    # Seam: the Premiere Theater is listed once its service (hosted provider + balance) is on main.
    return []


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
    # Every prefix that ends before a "/" could be a label; one query finds which of them are.
    labels = [name[:i] for i, ch in enumerate(name) if ch == "/" and 0 < i < len(name) - 1]
    if not labels:
        raise not_found(name)
    async with res.db() as s:
        found = {r.label: r for r in await s.scalars(
            select(ProviderConfig).options(defer(ProviderConfig.models))
            .where(ProviderConfig.account_id == account_id, ProviderConfig.label.in_(labels)))}
    if not found:
        raise not_found(name)
    label = max(found, key=len)
    row = found[label]
    if row.privacy_mode != "srv":
        raise ModelNotFound(E2E_UNREACHABLE.format(label=label), field="model")
    route = Route(name, (Target(row.id, label, name[len(label) + 1:]),), {row.id: row})
    _ROUTES[(account_id, name)] = (time.monotonic() + ROUTE_TTL, weakref.ref(res), route)
    if len(_ROUTES) > ROUTES_SIZE:
        del _ROUTES[next(iter(_ROUTES))]
    return route


async def _preset_targets(res: Resources, account_id: str, name: str) -> Route:
    # Seam: a preset's fallback chain (its slots, in order) becomes the targets once presets are on main.
    raise not_found(name)


async def _premiere_targets(res: Resources, account_id: str, name: str) -> Route:
    # Seam: the hosted models need the Premiere service (operator keys, balance); not on this server yet.
    raise ModelNotFound(f"The model `{name}` is not available: the Premiere Theater isn't reachable through the "
                        "API on this server. Use one of your own configs (`GET /v1/models` lists them).",
                        field="model")


# --- calling ----------------------------------------------------------------------------------

@dataclass
class Attempt:
    """One call to one target, for the usage log (see `_record`)."""

    account_id: str
    target: Target
    provider: str
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None
    outcome: str = "ok"  # ok | error | interrupted
    error_kind: str = ""
    usage: Usage | None = None
    recorded: bool = False


def _record(res: Resources, attempt: Attempt) -> None:
    """Once per attempt. Seam: one usage-log row (and a Premiere debit) once services.usage is on main."""
    if attempt.recorded:
        return
    attempt.recorded = True


def _open(res: Resources, route: Route, target: Target) -> connections.OpenConfig:
    try:
        return connections.open_row(res.keyring, route.loaded[target.section], connections.ServerKey())
    except StoredConfigCorrupt as exc:
        raise UpstreamFailed("config_broken", f"“{target.label}”: {exc.message}") from None
    except connections.KeyUnavailable:
        raise ModelNotFound(E2E_UNREACHABLE.format(label=target.label), field="model") from None


def _request_for(target: Target, request: ChatRequest, samplers: Mapping[str, Any], adapter: Adapter) -> ChatRequest:
    # OpenAI's own sampler names mean nothing (or something else) to other protocols' bodies.
    params = {**request.params, **samplers} if samplers and isinstance(adapter, OpenAICompat) else request.params
    return ChatRequest(request.messages, target.model_id, request.max_tokens, request.temperature, request.top_p,
                       request.stop, params)


async def _failed(res: Resources, attempt: Attempt, config: connections.OpenConfig, exc: ProviderError, *,
                  outcome: str = "error") -> UpstreamFailed:
    attempt.outcome, attempt.error_kind = outcome, exc.kind
    _record(res, attempt)
    label = attempt.target.label
    text = exc.message or exc.kind.replace("_", " ")
    if exc.kind == "auth":  # a live auth error turns the config's pill Invalid (user guide, "8. Maintenance Tips")
        await provider_configs.mark_invalid(res.db, config.config_id, text)
        text += (f" RoleCall marked “{label}” Invalid: open Settings → API Keys, paste a current key and click "
                 "Test Key.")
    return UpstreamFailed(exc.kind, f"The provider of “{label}” answered: {text}", retry_after=exc.retry_after,
                          status=exc.status)


async def complete(res: Resources, account_id: str, route: Route, request: ChatRequest,
                   samplers: Mapping[str, Any] = EMPTY) -> tuple[Target, ChatResult]:
    """A whole answer from the first target that gives one."""
    error: ServiceError | None = None
    for target in route.targets:
        try:
            config = _open(res, route, target)
        except (UpstreamFailed, ModelNotFound) as exc:  # a chain moves on past a config it cannot open
            error = exc
            continue
        attempt = Attempt(account_id, target, config.provider.id)
        adapter = protocol_for(config.provider.protocol)
        try:
            result = await adapter.chat(config.connection, _request_for(target, request, samplers, adapter), res.http)
        except ProviderError as exc:
            error = await _failed(res, attempt, config, exc)
            continue
        attempt.first_token, attempt.usage = time.monotonic(), result.usage
        _record(res, attempt)
        return target, result
    assert error is not None
    raise error


class Stream:
    """A started stream: its first event is already in hand; `events()` yields it and the rest."""

    def __init__(self, res: Resources, target: Target, config: connections.OpenConfig, attempt: Attempt,
                 first: ChatEvent, rest: AsyncGenerator[ChatEvent, None]) -> None:
        self.res, self.target, self.config, self.attempt = res, target, config, attempt
        self._first, self._rest = first, rest

    async def events(self) -> AsyncIterator[ChatEvent]:
        """The events; a failure after the first token raises `UpstreamFailed` (no fallback then)."""
        attempt = self.attempt
        try:
            yield self._first
            async for event in self._rest:
                if event.kind == "usage":
                    attempt.usage = event.usage
                yield event
        except ProviderError as exc:
            raise await _failed(self.res, attempt, self.config, exc, outcome="interrupted") from None
        except BaseException:  # the client went away, or the server is stopping
            attempt.outcome = "interrupted"
            raise
        finally:
            await self.close()
            _record(self.res, attempt)

    async def close(self) -> None:
        await self._rest.aclose()


async def start_stream(res: Resources, account_id: str, route: Route, request: ChatRequest,
                       samplers: Mapping[str, Any] = EMPTY) -> Stream:
    """Open the first target that produces a first event; `UpstreamFailed` when none does."""
    error: ServiceError | None = None
    for target in route.targets:
        try:
            config = _open(res, route, target)
        except (UpstreamFailed, ModelNotFound) as exc:
            error = exc
            continue
        attempt = Attempt(account_id, target, config.provider.id)
        adapter = protocol_for(config.provider.protocol)
        events = cast(AsyncGenerator[ChatEvent, None], adapter.stream_chat(
            config.connection, _request_for(target, request, samplers, adapter), res.http))
        try:
            first = await anext(events)
        except ProviderError as exc:
            await events.aclose()
            error = await _failed(res, attempt, config, exc)
            continue
        except StopAsyncIteration:
            error = UpstreamFailed("bad_response", f"The provider of “{target.label}” ended the stream without an answer.")
            continue
        except BaseException:
            await events.aclose()
            raise
        attempt.first_token = time.monotonic()
        if first.kind == "usage":
            attempt.usage = first.usage
        return Stream(res, target, config, attempt, first, events)
    assert error is not None
    raise error
