"""The chain a generation walks, with what can be known before any upstream call.

`plan()` merges the scene's own model choice (the AI wing: it goes first) with the preset's API
Options chain, drops repeats, and marks every entry that cannot run right now with the reason
the usage log records as a skip. With neither, it is the operator's first Premiere Theater model
(docs/user-guide.md, "1. What BYOK Is — and When to Use It": by default RoleCall runs on the
Premiere Theater, no key required), so a new account can chat at once. The skips:

* a slot whose provider config was deleted (broken);
* an End-to-End config in a background job (the server cannot open its key);
* an open circuit, a half-open circuit whose probe another request holds, or a Retry-After;
* a Premiere model the operator no longer offers, or an empty token balance.

The circuit states of the whole chain come from one cache round trip (`breaker.check`); the
balance is read once, and only when the chain holds a Premiere model. The gateway then tries the
runnable entries in order and moves on after an error before the first token (the guide: "If the
primary model returns an error ... RoleCall automatically moves to the next model"):

```python
walk = await fallback.plan(res, account_id, scene_model=(section, model_id),
                           preset_id=await presets.scene_preset_id(res.db, account_id, scene_id),
                           background=isinstance(key, ServerKey) and not foreground)
tried = []
for entry in walk:
    clock = usage.Clock()
    if entry.skip:
        usage.record(res, Attempt(..., outcome="skipped", reason=entry.skip, slot_position=entry.position))
        continue
    tried.append(entry.position)
    # open: premiere.open_model(res, entry.model_id) (use call.http) or connections.open_config(...)
    # stream; on the first token: clock.first_token(); no fallback after it
    # ProviderError before the first token: breaker.record_failure(res.cache, entry.verdict, exc.kind,
    #     retry_after=exc.retry_after); usage.record(... outcome="error", error_kind=exc.kind); continue
    # done: breaker.record_success(res.cache, entry.verdict); Premiere: premiere.charge(...);
    #     usage.record(... outcome="ok", latency_ms=clock.latency_ms, ttft_ms=clock.ttft_ms, ...); break
await fallback.release_unused(res, walk, tried)
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select

from rolecall.services import breaker, premiere, presets, token_balance
from rolecall.services.connections import E2E_IN_BACKGROUND, StoredRow
from rolecall.services.errors import NotFound
from rolecall.services.resources import Resources
from rolecall.storage.tables import ProviderConfig

NOT_OFFERED = "The Premiere Theater no longer offers this model."


@dataclass(frozen=True)
class Planned:
    """One entry of the walk. ``skip`` is empty when it may run; ``verdict`` feeds the breaker back."""

    position: int
    section: str  # a provider config id, "premiere", or "" for a broken slot
    model_id: str
    label: str
    provider_id: str
    privacy_mode: str | None
    breaker_id: str
    verdict: breaker.Verdict | None = None
    skip: str = ""
    skip_kind: str = ""  # broken | key_unavailable | circuit_open | rate_limited | premiere_unavailable | balance_empty

    @property
    def runnable(self) -> bool:
        return not self.skip


async def plan(res: Resources, account_id: str, *, scene_model: tuple[str, str] | None, preset_id: str | None,
               background: bool = False, policy: breaker.Policy | None = None,
               slots: Sequence[presets.Slot] | None = None,
               configs: Mapping[str, StoredRow] | None = None) -> list[Planned]:
    """The ordered walk for one turn. ``scene_model`` is (section, model id) from the scene, if chosen.

    A caller that already read the preset's chain (``slots``) and the account's config rows by id
    (``configs``: the scene model's label and mode come from there) spares those queries."""
    if slots is None:
        slots = await presets.chain(res.db, account_id, preset_id) if preset_id else []
    entries = await _entries(res, account_id, scene_model, slots, configs or {})
    return await judge(res, account_id, entries, background=background, policy=policy)


async def judge(res: Resources, account_id: str, entries: Sequence[Planned], *, background: bool = False,
                policy: breaker.Policy | None = None) -> list[Planned]:
    """Mark entries a caller built itself (the OpenAI-compatible API's resolved configs) like `plan` does."""
    ids = [e.breaker_id for e in entries if not e.skip]
    verdicts = await breaker.check(res.cache, ids, policy=policy or breaker.policy_of(res.settings)) if ids else {}
    balance_skip = await _balance_skip(res, account_id, entries)
    planned = []
    for entry in entries:
        if not entry.skip:
            entry = _judge(entry, verdicts.get(entry.breaker_id), background, balance_skip)
        planned.append(entry)
    return planned


async def _entries(res: Resources, account_id: str, scene_model: tuple[str, str] | None,
                   slots: Sequence[presets.Slot], configs: Mapping[str, StoredRow]) -> list[Planned]:
    wanted: list[tuple[str, str, presets.Slot | None]] = []
    if scene_model and scene_model[0] and scene_model[1]:
        wanted.append((scene_model[0], scene_model[1], None))
    wanted += [(slot.section, slot.model_id, slot) for slot in slots]
    offered = premiere.offered(res.settings)
    if offered and all(slot is not None and slot.broken for _, _, slot in wanted):
        # Nothing chosen anywhere (or only deleted configs): the hosted default, no key needed.
        wanted.append((premiere.SECTION, offered[0].id, None))
    entries: list[Planned] = []
    seen: set[tuple[str, str]] = set()
    for section, model_id, slot in wanted:
        if section and (section, model_id) in seen:
            continue
        seen.add((section, model_id))
        entries.append(await _entry(res, account_id, len(entries), section, model_id, slot, configs))
    return entries


async def _entry(res: Resources, account_id: str, position: int, section: str, model_id: str,
                 slot: presets.Slot | None, configs: Mapping[str, StoredRow]) -> Planned:
    if slot is not None and slot.broken:
        return Planned(position, "", model_id, slot.label, "", None, "", skip=slot.reason, skip_kind="broken")
    if section == premiere.SECTION:
        try:
            key = premiere.breaker_key(res.settings, model_id)
        except NotFound:
            return Planned(position, section, model_id, premiere.LABEL, "", None, "", skip=NOT_OFFERED,
                           skip_kind="premiere_unavailable")
        upstream = premiere.find(res.settings, model_id).upstream
        provider = next(u.provider for u in res.settings.premiere.upstreams if u.id == upstream)
        return Planned(position, section, model_id, premiere.LABEL, provider, None, key)
    if slot is not None and slot.provider_id:
        return Planned(position, section, model_id, slot.label, slot.provider_id, slot.privacy_mode, section)
    known = configs.get(section)
    if known is not None:
        row: tuple[str, str, str] | None = (known.label, known.provider_id, known.privacy_mode)
    else:  # the scene's own choice: one small read for its label and mode
        async with res.db() as s:
            found = (await s.execute(select(ProviderConfig.label, ProviderConfig.provider_id, ProviderConfig.privacy_mode)
                                     .where(ProviderConfig.id == section, ProviderConfig.account_id == account_id))).first()
        row = tuple(found) if found is not None else None  # type: ignore[assignment]
    if row is None:
        return Planned(position, "", model_id, "", "", None, "", skip=presets.BROKEN, skip_kind="broken")
    label, provider_id, mode = row
    return Planned(position, section, model_id, label, provider_id, mode, section)


async def _balance_skip(res: Resources, account_id: str, entries: Sequence[Planned]) -> str:
    if not any(e.section == premiere.SECTION and not e.skip for e in entries):
        return ""
    try:
        await token_balance.require(res.db, res.settings.premiere, account_id)
    except token_balance.BalanceEmpty as exc:
        return exc.message
    return ""


def _judge(entry: Planned, verdict: breaker.Verdict | None, background: bool, balance_skip: str) -> Planned:
    if background and entry.privacy_mode == "e2e":
        return replace(entry, skip=E2E_IN_BACKGROUND, skip_kind="key_unavailable")
    if entry.section == premiere.SECTION and balance_skip:
        return replace(entry, skip=balance_skip, skip_kind="balance_empty")
    if verdict is not None and not verdict.allowed:
        kind = "rate_limited" if verdict.state == "rate_limited" else "circuit_open"
        return replace(entry, verdict=verdict, skip=verdict.reason, skip_kind=kind)
    return replace(entry, verdict=verdict)


async def release_unused(res: Resources, planned: Sequence[Planned], tried: Sequence[int]) -> None:
    """Give back half-open probe claims of entries the walk never reached (an earlier one worked)."""
    for entry in planned:
        if entry.verdict is not None and entry.verdict.probe and entry.position not in tried:
            await breaker.release_probe(res.cache, entry.verdict)
