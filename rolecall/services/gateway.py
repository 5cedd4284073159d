"""Generation: a turn of a scene, streamed from the chosen model (docs/architecture.md, "Generation path").

```python
turn = await gateway.prepare(res, account_id, scene_id, "send", text="Hello")   # 404s raise here
async for event in gateway.run(res, turn, HandedKey(...) or ServerKey()):
    ...  # StreamEvent("user" | "start" | "delta" | "done" | "error", data)
```

The chain is a list of steps (one today: the scene's model; presets add fallbacks later). Each
step is opened through `connections.open_config` with the caller's key, which lives only in this
call's frames: it is never stored, logged, cached or queued. Checks that need no upstream call
(no model chosen, the key not handed over, the context does not fit) refuse the turn before
anything is written, so the page can fix it and send the same text again.

Writes: the person's message before the upstream call; the reply row after its first token has
gone out; the final text when the stream ends. No write and no log line per chunk. If the
stream breaks, or the client goes away (Stop), or the server stops mid-stream, the partial text
is kept with status `interrupted`; an error before the first token leaves no reply behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import anyio
from sqlalchemy import select

from rolecall.net import origin_of
from rolecall.providers import ChatEvent, ChatRequest, ProviderError, Usage, facts, protocol_for
from rolecall.services import connections, messages, provider_configs
from rolecall.services.errors import Invalid, NotFound, RateLimited
from rolecall.services.generation_errors import GenerationError, busy, first_token_timeout, from_provider, refusal
from rolecall.services.messages import Action, Made, Outcome, ReplyTarget, Turn
from rolecall.services.prompt import Budget, ContextTooLong, build, system_text
from rolecall.services.resources import Resources
from rolecall.services.scene_views import PREMIERE, ConfigName, MessageView, ModelView, model_view
from rolecall.services.stored_config import StoredConfigCorrupt
from rolecall.storage.db import Sessions
from rolecall.storage.tables import ProviderConfig

log = logging.getLogger(__name__)
_LIMITS: OrderedDict[tuple[str, str], dict[str, tuple[int | None, int | None]]] = OrderedDict()
_LIMITS_SIZE = 256
# (config, model) -> (context, max output, expiry): the list version is re-checked at most this often.
_RECENT: OrderedDict[tuple[str, str], tuple[int | None, int | None, float]] = OrderedDict()
RECHECK_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event for the page: ``delta`` carries the text piece as ``data``; the others a view or dict."""

    name: str
    data: Any


@dataclass(frozen=True)
class Step:
    section: str
    model_id: str


@dataclass(frozen=True)
class Prepared:
    turn: Turn
    action: Action
    text: str | None


async def prepare(res: Resources, account_id: str, scene_id: str, action: Action, *,
                  text: str | None = None, message_id: str | None = None) -> Prepared:
    """Read the turn (raises `NotFound` for another account's scene or message, `Invalid` for bad input)."""
    if text is not None and text.strip():
        text = messages.check_text(text)
    turn = await messages.load_turn(res.db, account_id, scene_id, action, message_id)
    return Prepared(turn, action, text or None)


def chain(turn: Turn) -> tuple[Step, ...]:
    """The models to try, in order: the scene's choice (fallbacks come with presets)."""
    if not turn.model_section or not turn.model_id:
        return ()
    return (Step(turn.model_section, turn.model_id),)


async def run(res: Resources, prepared: Prepared, key: connections.Key) -> AsyncGenerator[StreamEvent, None]:
    """The turn's events. Never raises for a failed generation: it ends with an ``error`` event."""
    turn = prepared.turn
    steps = chain(turn)
    if not steps:
        yield _error(refusal("no_model"))
        return
    step = steps[0]  # one step today; a later issue moves on to the next one on an error before the first token
    opened = await _open(res, turn, step, key)
    if isinstance(opened, GenerationError):
        yield _error(opened)
        return
    config, model = opened
    history = turn.history
    if prepared.text is not None:
        history = (*history, messages.Line("user", prepared.text))
    try:
        request = await _request(res.db, turn, step, history)
    except ContextTooLong as exc:
        yield _error(_too_long(exc, model))
        return
    async with AsyncExitStack() as held:
        try:  # a provider-call slot for the whole stream, taken before anything is stored
            await held.enter_async_context(res.limits.slot(turn.account_id, origin_of(config.connection.base_url)))
        except RateLimited as exc:
            yield _error(busy(exc.message, exc.retry_after))
            return
        target = turn.target
        if prepared.text is not None:
            user = await messages.add_user_message(res.db, turn.account_id, turn.scene_id, prepared.text,
                                                   turn.next_position)
            target = dataclasses.replace(target, position=turn.next_position + 1)
            yield StreamEvent("user", user)
        yield StreamEvent("start", {"message_id": target.message_id, "alternative": target.alt_index, "model": model})
        names = {config.config_id: ConfigName(config.label, config.provider.id, config.privacy_mode)}
        reply = Reply(target, Made(step.section, step.model_id, config.provider.id), names)
        async with aclosing(_relay(res, reply, config, request)) as relayed:
            async for event in relayed:
                yield event


@dataclass
class Reply:
    """The reply being written: where it goes, who makes it, and (once its row exists) when it began."""

    target: ReplyTarget
    made: Made
    names: dict[str, ConfigName]
    started_at: datetime | None = None

    async def begin(self, db: Sessions) -> None:
        self.started_at = await messages.begin_reply(db, self.target, self.made)

    async def finish(self, db: Sessions, outcome: Outcome) -> MessageView:
        if self.started_at is None:
            await self.begin(db)
        assert self.started_at is not None
        return await messages.finish_reply(db, self.target, outcome, self.made, self.names, self.started_at)


async def _open(res: Resources, turn: Turn, step: Step, key: connections.Key
                ) -> tuple[connections.OpenConfig, ModelView | None] | GenerationError:
    if step.section == PREMIERE:
        return refusal("premiere_unavailable")
    try:
        config = await connections.open_config(res, turn.account_id, step.section, key)
    except NotFound:
        return refusal("config_gone")
    except connections.KeyUnavailable:
        return refusal("key_needed", step.section)
    except StoredConfigCorrupt:
        return refusal("config_broken", step.section)
    except Invalid as exc:  # the handed key cannot be this provider's, or the stored one cannot be opened
        return GenerationError("auth", "The key was rejected", exc.message, step.section)
    names = {config.config_id: ConfigName(config.label, config.provider.id, config.privacy_mode)}
    return config, model_view(step.section, step.model_id, names)


async def _request(db: Sessions, turn: Turn, step: Step, history: tuple[messages.Line, ...]) -> ChatRequest:
    context, max_output = await model_limits(db, step.section, step.model_id)
    budget = Budget.for_model(context, max_output)
    prompt = build(system_text(turn.character, turn.title, turn.description), history, budget)
    return ChatRequest(prompt, model=step.model_id, max_tokens=budget.reply)


def _too_long(exc: ContextTooLong, model: ModelView | None) -> GenerationError:
    name = model.display_name if model else "This model"
    message = (f"This turn needs about {exc.needed:,} tokens (the character, the scene, the newest message and "
               f"room for the reply), and {name} takes {exc.window:,}. Shorten the message or the character's "
               "description, or pick a model with a larger context window.")
    return refusal("context_too_long", message=message)


async def _relay(res: Resources, reply: Reply, config: connections.OpenConfig, request: ChatRequest
                 ) -> AsyncGenerator[StreamEvent, None]:
    """Stream the reply: one ``delta`` per upstream text chunk, then ``done`` or ``error``."""
    parts: list[str] = []
    finish: str | None = None
    usage: Usage | None = None
    adapter = protocol_for(config.provider.protocol)
    # The read timeout restarts with every byte; this bounds the wait for the first text as a whole
    # (a model "thinking" in reasoning chunks or keep-alives), and is lifted once text flows.
    deadline = res.limits.rules.first_token_deadline
    first_token = asyncio.timeout(deadline)
    try:
        # Adapters' streams are async generators: closing ours closes the upstream response.
        upstream = cast("AsyncGenerator[ChatEvent, None]", adapter.stream_chat(config.connection, request, res.http))
        async with first_token, aclosing(upstream) as events:
            async for event in events:
                if event.kind == "text":
                    if not event.text:
                        continue
                    parts.append(event.text)
                    if reply.started_at is None:
                        first_token.reschedule(None)
                    yield StreamEvent("delta", event.text)
                    if reply.started_at is None:  # after the first token went out, so the write does not delay it
                        await reply.begin(res.db)
                elif event.kind == "usage":
                    usage = event.usage
                elif event.kind == "finish":
                    finish = event.finish_reason
    except ProviderError as exc:
        error = from_provider(exc, config.config_id)
        if exc.kind == "auth":  # a live auth error turns the pill Invalid (user guide, "8. Maintenance Tips")
            await provider_configs.mark_invalid(res.db, config.config_id, error.message)
        kept = await reply.finish(res.db, _interrupted(parts, error)) if parts else None
        yield _error(error, kept)
        return
    except TimeoutError:
        if not first_token.expired():
            raise
        yield _error(first_token_timeout(deadline, config.config_id))
        return
    except BaseException:  # Stop (client gone), server shutdown: keep what was written
        if parts:
            with anyio.CancelScope(shield=True):
                await reply.finish(res.db, _interrupted(parts, None))
        raise
    if not parts:
        yield _error(GenerationError("bad_response", "Empty reply", "The model sent an empty reply"
                                     + (f" (finish reason: {finish})" if finish else "") + ". Try again or pick "
                                     "another model.", config.config_id))
        return
    outcome = Outcome("".join(parts), "complete", finish, usage.input_tokens if usage else None,
                      usage.output_tokens if usage else None)
    yield StreamEvent("done", await reply.finish(res.db, outcome))


def _interrupted(parts: list[str], error: GenerationError | None) -> Outcome:
    return Outcome("".join(parts), "interrupted", "error" if error else "stopped",
                   error_kind=error.kind if error else None, error_message=error.message if error else None)


def _error(error: GenerationError, reply: MessageView | None = None) -> StreamEvent:
    return StreamEvent("error", {"error": error, "reply": reply})


# --- model limits ------------------------------------------------------------------------------

async def model_limits(db: Sessions, config_id: str, model_id: str) -> tuple[int | None, int | None]:
    """(context window, max output) of a model: the config's cached list, else curated facts, else unknown.

    The list (the config's largest column) is read once per list version and kept in a bounded
    cache; a model asked about in the last minute is answered without a query at all.
    """
    now = time.monotonic()
    recent = _RECENT.get((config_id, model_id))
    if recent is not None and recent[2] > now:
        return recent[0], recent[1]
    context, max_output = await _limits_from_list(db, config_id, model_id)
    _RECENT[(config_id, model_id)] = (context, max_output, now + RECHECK_SECONDS)
    if len(_RECENT) > _LIMITS_SIZE * 4:
        _RECENT.popitem(last=False)
    return context, max_output


async def _limits_from_list(db: Sessions, config_id: str, model_id: str) -> tuple[int | None, int | None]:
    async with db() as s:
        fetched = await s.scalar(select(ProviderConfig.models_fetched_at).where(ProviderConfig.id == config_id))
        key = (config_id, fetched.isoformat() if fetched else "")
        table = _LIMITS.get(key)
        if table is None:
            rows = await s.scalar(select(ProviderConfig.models).where(ProviderConfig.id == config_id)) or []
            table = {row["id"]: (row.get("context_window"), row.get("max_output"))
                     for row in rows if isinstance(row, dict) and isinstance(row.get("id"), str)}
            _LIMITS[key] = table
            if len(_LIMITS) > _LIMITS_SIZE:
                _LIMITS.popitem(last=False)
    context, max_output = table.get(model_id, (None, None))
    if context is None or max_output is None:
        fact = facts.lookup(model_id)
        if fact is not None:
            context, max_output = context or fact.context_window, max_output or fact.max_output
    return context, max_output
