"""What a generation needs to know about a model before calling it: its context window, its
largest reply, and whether it takes images.

For a provider config: the config's cached model list, else the curated facts, else unknown. The
list (the config's largest column) is read once per list version and kept in a bounded cache; a
model asked about in the last minute is answered without a query at all. For the Premiere
Theater: the operator's settings.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select

from rolecall.config import Settings
from rolecall.providers import facts
from rolecall.services import premiere
from rolecall.services.errors import NotFound
from rolecall.storage import direct
from rolecall.storage.db import Sessions
from rolecall.storage.tables import ProviderConfig


@dataclass(frozen=True)
class ModelFacts:
    context_window: int | None = None
    max_output: int | None = None
    capabilities: frozenset[str] | None = None  # None: unknown

    @property
    def vision(self) -> bool | None:
        return None if self.capabilities is None else "vision" in self.capabilities


_Table = dict[str, ModelFacts]
_LISTS: OrderedDict[tuple[str, str], _Table] = OrderedDict()
_LISTS_SIZE = 256
# (config, model) -> (facts, expiry): the list version is re-checked at most this often.
_RECENT: OrderedDict[tuple[str, str], tuple[ModelFacts, float]] = OrderedDict()
RECHECK_SECONDS = 60.0


async def lookup(db: Sessions, settings: Settings, section: str, model_id: str) -> ModelFacts:
    if section == premiere.SECTION:
        try:
            model = premiere.find(settings, model_id)
        except NotFound:
            return ModelFacts()
        return ModelFacts(model.context_window, model.max_output, frozenset(model.capabilities))
    return await of_config(db, section, model_id)


async def of_config(db: Sessions, config_id: str, model_id: str) -> ModelFacts:
    now = time.monotonic()
    recent = _RECENT.get((config_id, model_id))
    if recent is not None and recent[1] > now:
        return recent[0]
    found = await _from_list(db, config_id, model_id)
    _RECENT[(config_id, model_id)] = (found, now + RECHECK_SECONDS)
    if len(_RECENT) > _LISTS_SIZE * 4:
        _RECENT.popitem(last=False)
    return found


# The list's version, then (on a version not cached) the list with its version: straight on the
# driver (`storage/direct.py`), since a person's turns are often more than RECHECK_SECONDS apart.
_VERSION = direct.Query(select(ProviderConfig.models_fetched_at).where(ProviderConfig.id == bindparam("id_")))
_LIST = direct.Query(select(ProviderConfig.models_fetched_at, ProviderConfig.models)
                     .where(ProviderConfig.id == bindparam("id_")))


def _key(config_id: str, fetched: datetime | None) -> tuple[str, str]:
    return config_id, fetched.isoformat() if fetched else ""


async def _from_list(db: Sessions, config_id: str, model_id: str) -> ModelFacts:
    version = await direct.first(db, _VERSION, {"id_": config_id})
    table = _LISTS.get(_key(config_id, version.models_fetched_at if version else None))
    if table is None:
        listed = await direct.first(db, _LIST, {"id_": config_id})
        rows = (listed.models if listed else None) or []
        table = {row["id"]: _row_facts(row) for row in rows if isinstance(row, dict) and isinstance(row.get("id"), str)}
        _LISTS[_key(config_id, listed.models_fetched_at if listed else None)] = table
        if len(_LISTS) > _LISTS_SIZE:
            _LISTS.popitem(last=False)
    found = table.get(model_id, ModelFacts())
    if found.context_window is None or found.max_output is None or found.capabilities is None:
        fact = facts.lookup(model_id)
        if fact is not None:
            found = ModelFacts(found.context_window or fact.context_window, found.max_output or fact.max_output,
                               found.capabilities if found.capabilities is not None else fact.capabilities)
    return found


def _row_facts(row: dict) -> ModelFacts:  # type: ignore[type-arg]
    caps = row.get("capabilities")
    return ModelFacts(row.get("context_window"), row.get("max_output"),
                      frozenset(caps) if isinstance(caps, list) and caps else None)
