"""The model catalog: every model a person can use, by provider section, with stars and search.

Cached lists are served at once; a list older than ``model_list_max_age_hours`` is refreshed by
a background job (Server-Accessible configs only: the server cannot open an E2E key), never
blocking the page. A refresh that fails keeps the last good list and says why. Rows are merged
with curated facts once per (config, list version) and kept in a small in-process cache, so a
search over thousands of models only filters precomputed rows.

Two shapes: one object per model (``catalog_stream``, ``section_page``: the API's default) and
the compact one (``compact_json``, ``section_json``: a column list and one array per model,
encoded once per list version; the Cast page's form, about a fifth of the bytes). Collapsed
sections can be left out and fetched alone.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from rolecall.config import Settings
from rolecall.providers import ModelInfo, facts, get
from rolecall.services import premiere
from rolecall.services.errors import Invalid, NotFound
from rolecall.services.model_refresh import refresh_stale
from rolecall.services.resources import Resources
from rolecall.storage.db import Sessions
from rolecall.storage.tables import ModelStar, ProviderConfig, utcnow

log = logging.getLogger(__name__)
PREMIERE = premiere.SECTION
_MERGED: OrderedDict[tuple[str, str], Merged] = OrderedDict()
_MERGED_LIMIT = 256
SCREENFUL = 60  # models: more than a first screen shows (each section shows 30 rows until "Show all")
# Compact rows: one array per model, in this column order. `from_list`: the provider's own list
# gave the row (else RoleCall's static list); `curated`: index into the section's `curated` table.
COLUMNS = ("id", "name", "context_window", "context_label", "max_output", "capabilities", "speed", "free",
           "input_price", "output_price", "from_list", "curated")


@dataclass(frozen=True, slots=True)
class Entry:
    """One merged model, ready to send: ``tail`` is its JSON object without the opening brace,
    so a request only prepends the per-person fields (starred, section) instead of re-encoding."""

    id: str
    haystack: str
    tail: str


class Merged:
    """One list version merged with curated facts; each wire shape is encoded on first use."""

    __slots__ = ("_compact", "_entries", "items")

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self._entries: list[Entry] | None = None
        self._compact: str | None = None

    @property
    def entries(self) -> list[Entry]:
        if self._entries is None:
            self._entries = [Entry(item["id"], f"{item['id']} {item['name'] or ''}".lower(), _dump(item)[1:])
                             for item in self.items]
        return self._entries

    @property
    def compact(self) -> str:
        """``"curated":[[id, source, as_of], ...],"rows":[[...COLUMNS], ...]`` (no braces), one dumps call."""
        if self._compact is None:
            curated: dict[str, int] = {}
            table: list[list[Any]] = []
            rows = []
            for item in self.items:
                details = item["details"]
                index = None
                if details["curated_id"] is not None:
                    index = curated.get(details["curated_id"])
                    if index is None:
                        index = curated[details["curated_id"]] = len(table)
                        table.append([details["curated_id"], details["curated_source"], details["curated_as_of"]])
                rows.append([item["id"], item["name"], item["context_window"], item["context_label"], item["max_output"],
                             item["capabilities"], item["speed"], item["free"], item["input_price"],
                             item["output_price"], details["provider_list_at"] is not None, index])
            self._compact = f'"curated":{_dump(table)},"rows":{_dump(rows)}'
        return self._compact


@dataclass(frozen=True)
class Section:
    id: str
    label: str
    provider_name: str
    privacy_mode: str | None
    status: str | None
    fetched_at: str | None
    stale: bool
    error: str
    pinned_model: str | None
    total: int
    merged: Merged | None  # None: left out (a collapsed section), only counted

    @property
    def models(self) -> list[Entry]:
        return self.merged.entries if self.merged else []

    def meta(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "merged"}


def _merged(key: tuple[str, str], provider_id: str, rows: list[dict[str, Any]], fetched_at: str | None) -> Merged:
    cached = _MERGED.get(key)
    if cached is not None:
        _MERGED.move_to_end(key)
        return cached
    items = []
    for row in rows:
        info = ModelInfo(**{**row, "capabilities": frozenset(row.get("capabilities") or ())})
        items.append(facts.merge(info, provider_id, fetched_at))
    merged = _MERGED[key] = Merged(items)
    if len(_MERGED) > _MERGED_LIMIT:
        _MERGED.popitem(last=False)
    return merged


def premiere_section(settings: Settings) -> Section:
    # The operator's [premiere] models, with the metadata they configured (services.premiere).
    rows = premiere.catalog_rows(settings)
    merged = _merged((PREMIERE, json.dumps(rows, sort_keys=True)), PREMIERE, rows, None)
    return Section(PREMIERE, premiere.LABEL, premiere.LABEL, None, None, None, False, "", None,
                   len(merged.items), merged)


async def config_section(s: AsyncSession, row: ProviderConfig | Row[Any], max_age: timedelta, *, include: bool = True) -> Section:
    fetched = row.models_fetched_at.isoformat() if row.models_fetched_at else None
    stale = row.models_fetched_at is not None and utcnow() - row.models_fetched_at > max_age
    key = (row.id, fetched or "")
    merged = _MERGED.get(key)
    if merged is not None:
        _MERGED.move_to_end(key)
        total = len(merged.items)
    elif include:  # the list itself is only read from the database when this version is not merged yet
        rows = await s.scalar(select(ProviderConfig.models).where(ProviderConfig.id == row.id)) or []
        total = len(rows)
        merged = _merged(key, row.provider_id, rows, fetched)
    else:  # left out (a collapsed section): counted, never read
        total = row.models_count
    # Read leniently: a config with damaged options is still listed (opening it is what refuses).
    pinned = row.options.get("model") if isinstance(row.options, dict) else None
    return Section(row.id, row.label, get(row.provider_id).name, row.privacy_mode, row.status, fetched, stale,
                   row.models_error or "", pinned if isinstance(pinned, str) and pinned else None, total,
                   merged if include else None)


def _matches(entry: Entry, words: list[str]) -> bool:
    return all(word in entry.haystack for word in words)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class _Loaded:
    sections: list[Section]
    stars: set[tuple[str, str]]


async def _load(res: Resources, account_id: str, section_id: str | None = None) -> _Loaded:
    """The sections (all, or the one asked for) with their merged rows, and the person's stars."""
    max_age = timedelta(hours=res.settings.model_list_max_age_hours)
    query = (select(ProviderConfig).where(ProviderConfig.account_id == account_id)
             .options(defer(ProviderConfig.models)).order_by(ProviderConfig.created_at))
    if section_id is not None:
        query = query.where(ProviderConfig.id == section_id)
    async with res.db() as s:
        rows = [] if section_id == PREMIERE else list(await s.scalars(query))
        if section_id not in (None, PREMIERE) and not rows:
            raise NotFound("No such provider config.")
        star_query = select(ModelStar).where(ModelStar.account_id == account_id)
        if section_id is not None:
            star_query = star_query.where(ModelStar.section == section_id)
        stars = {(st.section, st.model_id) for st in await s.scalars(star_query)}
        sections = [await config_section(s, r, max_age) for r in rows]
    await refresh_stale(res, [r for r, sec in zip(rows, sections, strict=True) if sec.stale and r.privacy_mode == "srv"])
    if section_id in (None, PREMIERE):
        sections.insert(0, premiere_section(res.settings))
    return _Loaded(sections, stars)


def _rows(section: Section, hits: list[Entry], stars: set[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(starred rows, other rows) as JSON objects, the per-person fields prepended to each."""
    head = f'"section":{_dump(section.id)},"section_label":{_dump(section.label)},'
    pinned = [f'{{"starred":true,{head}{e.tail}' for e in hits if (section.id, e.id) in stars]
    rest = [f'{{"starred":false,{head}{e.tail}' for e in hits if (section.id, e.id) not in stars]
    return pinned, rest


def _meta(section: Section, matches: int) -> dict[str, Any]:
    return section.meta() | {"matches": matches}


def _hits(section: Section, words: list[str]) -> list[Entry]:
    return [e for e in section.models if _matches(e, words)] if words else section.models


async def catalog_stream(res: Resources, account_id: str, query: str = "") -> AsyncIterator[str]:
    """The catalog as JSON text, one section at a time, never as one document in memory:
    ``{"query", "starred": [...], "sections": [{..., "total", "models": [...]}]}``.

    Sections come Premiere first, then each config; models are filtered by ``query`` (every word
    must appear in the id or name) and starred ones come first. Rows are pre-encoded (``Entry``).
    """
    loaded = await _load(res, account_id)
    words = query.lower().split()
    starred = [row for section in loaded.sections
               for row in _rows(section, [e for e in section.models if (section.id, e.id) in loaded.stars
                                          and _matches(e, words)], loaded.stars)[0]]
    return _stream(query, starred, loaded, words)


async def _stream(query: str, starred: list[str], loaded: _Loaded, words: list[str]) -> AsyncIterator[str]:
    yield f'{{"query":{_dump(query)},"starred":[{",".join(starred)}],"sections":['
    for index, section in enumerate(loaded.sections):
        hits = _hits(section, words)
        pinned, rest = _rows(section, hits, loaded.stars)
        rows = pinned + rest
        yield ("," if index else "") + _dump(_meta(section, len(hits)))[:-1] + ',"models":['
        for start in range(0, len(rows), 500):  # a few hundred rows per chunk
            yield ("," if start else "") + ",".join(rows[start:start + 500])
        yield "]}"
    yield "]}"


async def catalog_json(res: Resources, account_id: str, query: str = "") -> str:
    """``catalog_stream`` joined (for callers inside the process and tests)."""
    return "".join([part async for part in await catalog_stream(res, account_id, query)])


async def catalog(res: Resources, account_id: str, query: str = "") -> dict[str, Any]:
    """``catalog_json`` as Python data (for callers inside the process)."""
    data: dict[str, Any] = json.loads(await catalog_json(res, account_id, query))
    return data


async def section_index(res: Resources, account_id: str, query: str = "") -> str:
    """The light index: every section's details with ``total`` and ``matches`` but no model rows,
    plus the starred rows (they head every picker)."""
    loaded = await _load(res, account_id)
    words = query.lower().split()
    starred, metas = [], []
    for section in loaded.sections:
        hits = _hits(section, words)
        starred += _rows(section, [e for e in hits if (section.id, e.id) in loaded.stars], loaded.stars)[0]
        metas.append(_dump(_meta(section, len(hits))))
    return f'{{"query":{_dump(query)},"starred":[{",".join(starred)}],"sections":[{",".join(metas)}]}}'


async def section_page(res: Resources, account_id: str, section_id: str, query: str = "", offset: int = 0,
                       limit: int = 1000) -> str:
    """One section with one page of its (filtered, starred-first) rows:
    ``{..., "total", "matches", "offset", "limit", "models": [...]}``."""
    loaded = await _load(res, account_id, section_id)
    section = loaded.sections[0]
    hits = _hits(section, query.lower().split())
    pinned, rest = _rows(section, hits, loaded.stars)
    page = (pinned + rest)[offset:offset + limit]
    meta = _meta(section, len(hits)) | {"query": query, "offset": offset, "limit": limit}
    return _dump(meta)[:-1] + ',"models":[' + ",".join(page) + "]}"


def _compact_section(section: Section, starred: list[str]) -> str:
    meta = _dump(section.meta() | {"starred": starred})[:-1]
    if section.merged is None:
        return meta + ',"curated":[],"rows":null}'
    return f"{meta},{section.merged.compact}}}"


async def compact_json(res: Resources, account_id: str, skip: frozenset[str] = frozenset(),
                       first: int | None = None, only: frozenset[str] | None = None) -> str:
    """Every section in the compact shape: ``{"columns": [...], "sections": [{..meta, "starred": [ids],
    "curated": [...], "rows": [[...], ...]}]}``. Sections named in ``skip`` (collapsed on the page)
    come with ``"rows": null`` and are fetched with ``section_json`` when opened, unless they hold a
    starred model (the Starred group needs its row). ``first``: only the first N sections carry rows
    (the page's first screenful, so a cold server merges a few lists before the page can paint).
    ``first`` stops early once the carried sections hold ``SCREENFUL`` models: on a cold server
    each list is merged on its first read (~6 ms per 250 models), on the page's critical path.
    ``only``: rows for exactly these sections (Premiere's too only if named), the page's second
    request for the open sections the first one left out."""
    max_age = timedelta(hours=res.settings.model_list_max_age_hours)
    async with res.db() as s:
        rows = list(await s.execute(LISTED.where(config_columns.account_id == account_id)))
        stars = await stars_of(s, account_id)
        hosted = premiere_section(res.settings)
        if only is not None and PREMIERE not in only:
            hosted = replace(hosted, merged=None)
        sections = [hosted]
        for r, include in zip(rows, carried(rows, stars, skip, first, only), strict=True):
            sections.append(await config_section(s, r, max_age, include=include))
    await refresh_stale(res, [r for r, sec in zip(rows, sections[1:], strict=True) if sec.stale and r.privacy_mode == "srv"])
    body = ",".join(_compact_section(sec, stars.get(sec.id, [])) for sec in sections)
    return f'{{"columns":{_dump(COLUMNS)},"sections":[{body}]}}'


def carried(rows: list[Row[Any]], stars: dict[str, list[str]], skip: frozenset[str], first: int | None,
             only: frozenset[str] | None) -> list[bool]:
    """Which config sections `compact_json` sends with their rows."""
    carried = carried_rows = 0
    included = []
    for r in rows:
        screen = first is None or (carried < first and carried_rows < SCREENFUL)
        include = r.id in only if only is not None else (r.id not in skip and screen) or bool(stars.get(r.id))
        carried += include
        carried_rows += r.models_count if include else 0
        included.append(include)
    return included


# The page's request reads every config's row but no list: plain columns, not ORM instances
# (a third of this request's CPU at 40 configs went into building them).
config_columns = ProviderConfig.__table__.c
LISTED = select(*(column for column in config_columns if column.name != "models")).order_by(config_columns.created_at)


async def section_json(res: Resources, account_id: str, section_id: str) -> str:
    """One section in the compact shape (``{"columns", "section"}``); another account's is NotFound."""
    max_age = timedelta(hours=res.settings.model_list_max_age_hours)
    async with res.db() as s:
        stars = await stars_of(s, account_id)
        row = None
        if section_id == PREMIERE:
            section = premiere_section(res.settings)
        else:
            row = await s.scalar(select(ProviderConfig).where(
                ProviderConfig.id == section_id, ProviderConfig.account_id == account_id)
                .options(defer(ProviderConfig.models)))
            if row is None:
                raise NotFound("No such provider config.")
            section = await config_section(s, row, max_age)
    if section.stale and row is not None and row.privacy_mode == "srv":
        await refresh_stale(res, [row])
    return f'{{"columns":{_dump(COLUMNS)},"section":{_compact_section(section, stars.get(section.id, []))}}}'


async def stars_of(s: AsyncSession, account_id: str) -> dict[str, list[str]]:
    starred: dict[str, list[str]] = {}
    for star in await s.scalars(select(ModelStar).where(ModelStar.account_id == account_id)):
        starred.setdefault(star.section, []).append(star.model_id)
    return starred


async def set_star(db: Sessions, account_id: str, section: str, model_id: str, starred: bool) -> None:
    async with db.begin() as s:
        if section != PREMIERE:
            owned = await s.scalar(select(ProviderConfig.id).where(
                ProviderConfig.id == section, ProviderConfig.account_id == account_id))
            if owned is None:
                raise NotFound("No such provider config.")
        if not model_id or len(model_id) > 256:
            raise Invalid("Which model? Give its id.", field="model_id")
        existing = await s.get(ModelStar, (account_id, section, model_id))
        if starred and existing is None:
            s.add(ModelStar(account_id=account_id, section=section, model_id=model_id))
        elif not starred and existing is not None:
            await s.delete(existing)

