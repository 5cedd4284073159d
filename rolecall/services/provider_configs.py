"""BYOK provider configs: create, list, test, edit and delete a person's provider connections.

Privacy modes (docs/user-guide.md, "Step 3a — Pick Your Privacy Mode"): ``e2e`` rows hold an
envelope sealed in the browser (the key never reaches this module except for the one foreground
call that tests it); ``srv`` rows are sealed here under the key ring. Either way the credential
is bound to the row's owner, id, provider and destination origin, so moving a config to another
origin needs the key again. Custom header values are secrets too: they travel inside the sealed
bundle; only their names are stored.
"""

from __future__ import annotations

import json
import typing
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, Text, bindparam, case, cast, select
from sqlalchemy import delete as sa_delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from rolecall.crypto import masked_hint
from rolecall.net import origin_of
from rolecall.providers import Connection
from rolecall.services import connections, destinations, key_checks, vault
from rolecall.services.config_input import (
    ConfigInput,
    Resolved,
    check_api_key,
    check_config_id,
    check_header_names,
    check_label,
    check_mode,
    header_values,
    resolve,
)
from rolecall.services.errors import Conflict, Invalid, NotFound
from rolecall.services.key_checks import KeyCheck
from rolecall.services.resources import Resources
from rolecall.services.stored_config import ConfigOptions, ConfigView, listed_view, load_owned, view_of
from rolecall.storage import direct
from rolecall.storage.db import Sessions
from rolecall.storage.tables import ModelStar, ProviderConfig, utcnow

MODE_IS_FIXED = ("The privacy mode can't be changed after saving. Delete this config and create it again "
                 "in the other mode.")
NO_SUCH_CONFIG = "No such provider config."


@dataclass(frozen=True, repr=False)
class KeyInput:
    """The key part of the form: plaintext for srv (and for any test), an envelope for e2e."""

    api_key: str | None = None
    headers: str = ""
    credential: str | None = None
    header_names: tuple[str, ...] = ()

    def __repr__(self) -> str:  # the form's key and header values are secrets
        return f"KeyInput(credential={self.credential is not None}, header_names={self.header_names!r})"


# --- reading ---------------------------------------------------------------------------------

async def list_configs(db: Sessions, account_id: str) -> list[ConfigView]:
    async with db() as s:
        # The model lists stay in the database: the list shows only models_count.
        rows = await s.scalars(select(ProviderConfig).where(ProviderConfig.account_id == account_id)
                               .options(defer(ProviderConfig.models, raiseload=True)).order_by(ProviderConfig.created_at))
        return [listed_view(row) for row in rows]


async def get_owned(db: Sessions, account_id: str, config_id: str) -> ConfigView:
    row = await load_owned(db, account_id, config_id)
    if row is None:
        raise NotFound(NO_SUCH_CONFIG)
    return view_of(row)


async def e2e_credentials(db: Sessions, account_id: str) -> list[dict[str, str]]:
    async with db() as s:
        rows = await s.scalars(select(ProviderConfig).where(
            ProviderConfig.account_id == account_id, ProviderConfig.privacy_mode == "e2e"))
        return [{"config_id": r.id, "provider_id": r.provider_id, "dest_origin": r.dest_origin,
                 "credential": r.credential_ct or ""} for r in rows]


# --- checking keys ---------------------------------------------------------------------------

async def check_unsaved(res: Resources, account_id: str, data: ConfigInput, api_key: str | None) -> KeyCheck:
    """Test before saving. For E2E the plaintext is here for this one call and is never stored."""
    await vault.require_set_up(res.reads, account_id)
    resolved = resolve(data)
    conn = key_checks.unsaved_connection(resolved, api_key, resolved.headers)
    outcome = await _limited_check(res, account_id, conn)
    return await key_checks.remember(res.cache, outcome, account_id=account_id, provider_id=data.provider_id,
                                     target_url=resolved.target.base_url, api_key=api_key)


async def check_saved(res: Resources, account_id: str, config_id: str, key: connections.Key) -> KeyCheck:
    """Test Key on a card: re-run the check, refresh the status and the cached model list.

    A Server-Accessible config uses the server's key whatever ``key`` is; an End-to-End one
    needs the `HandedKey` the browser opened.
    """
    opened = await connections.open_config(res, account_id, config_id, key)
    outcome = await _limited_check(res, account_id, opened.connection)
    if outcome.status == "unchecked":  # not a verdict on the key: nothing to store, no transaction
        return outcome
    await _store_check(res.db, config_id, outcome)
    return outcome


async def _limited_check(res: Resources, account_id: str, conn: Connection) -> KeyCheck:
    """One key check under the account's rate limit, a provider-call slot and the overall deadline."""
    limits = res.limits
    await limits.rate("test", account_id)
    deadline = limits.rules.test_deadline
    try:
        async with limits.outbound(account_id, origin_of(conn.base_url), deadline=deadline):
            return await key_checks.run_check(res.http, conn)
    except TimeoutError:
        return key_checks.timed_out(conn, deadline)


def _apply_check(row: ProviderConfig, outcome: KeyCheck) -> None:
    """A key check's verdict on a row: status, and on success the model list it returned."""
    if outcome.status == "unchecked":  # 429, 5xx, network: not a verdict on the key
        return
    row.status, row.status_detail, row.last_tested_at = outcome.status, outcome.detail, utcnow()
    if outcome.status == "valid":
        if row.models != outcome.models:  # rewriting an unchanged list cost more than the check itself
            row.models = outcome.models
        row.models_fetched_at = utcnow()
        # A Custom endpoint answered under /v1 or /api/v1: keep that path (same origin, same key binding).
        if outcome.base_url != row.base_url and origin_of(outcome.base_url) == row.dest_origin:
            row.base_url = outcome.base_url


async def _store_check(db: Sessions, config_id: str, outcome: KeyCheck) -> None:
    """`_apply_check` on a saved row as plain UPDATEs: no ORM load of the row and its model list,
    no unit-of-work flush (they were most of a Test's own time). The statements are built once
    (`_VERDICT`): no per-Test building, cache-key walk or ORM-enabled UPDATE.

    An unchanged list is not rewritten. When this process wrote (or found) this very list last and
    the row still has the fetch time it wrote then, nobody wrote a list since (every list write
    sets a new fetch time): one UPDATE conditioned on that time, and the list is never encoded.
    Otherwise the first UPDATE only matches while the stored list's text is the new list's; when it
    is not (or the text differs only in form), the second writes it.

    Each UPDATE is a whole verdict on its own (the conditions only decide whether the list is
    rewritten), so each runs as its own statement (`direct.write`) with no transaction around them.
    """
    now = utcnow()
    values: dict[str, Any] = {"id_": config_id, "status_": outcome.status, "detail_": outcome.detail, "now_": now}
    if outcome.status != "valid":
        await direct.write(db, _VERDICT.status, values)
        return
    # A Custom endpoint answered under /v1 or /api/v1: keep that path (same origin, same key binding).
    values |= {"origin_": origin_of(outcome.base_url), "base_": outcome.base_url}
    known = _WRITTEN.pop(config_id, None)
    if (known is not None and known[1] == outcome.models
            and await direct.write(db, _VERDICT.if_fetched, values | {"known_": known[0]}) == 1):
        _remember_written(config_id, now, outcome.models)
        return
    if await direct.write(db, _VERDICT.if_same_list, values | {"text_": json.dumps(outcome.models)}) == 0:
        await direct.write(db, _VERDICT.with_list, values | {"models_": outcome.models, "count_": len(outcome.models)})
    _remember_written(config_id, now, outcome.models)


class _VerdictStatements:
    """The verdict's UPDATEs on the table, with bind parameters (names end in ``_``: a bind
    parameter may not share a column's name in a SET clause)."""

    def __init__(self) -> None:
        table = typing.cast(Table, ProviderConfig.__table__)
        c = table.c
        by_id = table.update().where(c.id == bindparam("id_"))
        verdict = {"status": bindparam("status_", type_=c.status.type),
                   "status_detail": bindparam("detail_", type_=c.status_detail.type),
                   "last_tested_at": bindparam("now_", type_=c.last_tested_at.type)}
        self.status = direct.Query(by_id.values(verdict))
        valid = verdict | {
            "base_url": case((c.dest_origin == bindparam("origin_", type_=c.dest_origin.type),
                              bindparam("base_", type_=c.base_url.type)), else_=c.base_url),
            "models_fetched_at": bindparam("now_", type_=c.models_fetched_at.type),
        }
        self.if_fetched = direct.Query(by_id.where(
            c.models_fetched_at == bindparam("known_", type_=c.models_fetched_at.type)).values(valid))
        self.if_same_list = direct.Query(by_id.where(cast(c.models, Text) == bindparam("text_", type_=Text)).values(valid))
        self.with_list = direct.Query(by_id.values(valid | {"models": bindparam("models_", type_=c.models.type),
                                                            "models_count": bindparam("count_", type_=c.models_count.type)}))


_VERDICT = _VerdictStatements()


# config id -> (the fetch time this process last wrote, the list the row held then), newest last.
# Kept for the configs tested lately only: a list is ~100 kB at 250 models.
_WRITTEN: OrderedDict[str, tuple[datetime, list[dict[str, Any]]]] = OrderedDict()
_WRITTEN_LIMIT = 64


def _remember_written(config_id: str, fetched_at: datetime, models: list[dict[str, Any]]) -> None:
    _WRITTEN[config_id] = (fetched_at, models)
    if len(_WRITTEN) > _WRITTEN_LIMIT:
        _WRITTEN.popitem(last=False)


async def mark_invalid(db: Sessions, config_id: str, detail: str) -> None:
    """A live generation got an auth error: the pill turns Invalid (docs/user-guide.md,
    "8. Maintenance Tips")."""
    async with db.begin() as s:
        row = await s.get(ProviderConfig, config_id)
        if row is not None:
            row.status, row.status_detail, row.last_tested_at = "invalid", detail, utcnow()


# --- creating and editing --------------------------------------------------------------------

async def create(res: Resources, account_id: str, label: str, mode: str, data: ConfigInput, creds: KeyInput,
                 config_id: str | None = None, test_id: str | None = None) -> ConfigView:
    await res.limits.rate("save", account_id)
    label, mode = check_label(label), check_mode(mode)
    resolved = resolve(data)
    await destinations.check_target(res.settings.network, resolved.target)
    row = ProviderConfig(
        id=check_config_id(config_id) if mode == "e2e" or config_id else str(uuid.uuid4()), account_id=account_id,
        provider_id=resolved.provider.id, label=label, privacy_mode=mode, status="untested", status_detail="",
        base_url=resolved.target.base_url, dest_origin=resolved.target.origin,
    )
    tested = await key_checks.recall(res.cache, test_id, account_id=account_id, provider_id=row.provider_id,
                                     target_url=resolved.target.base_url, api_key=creds.api_key,
                                     check_key=mode == "srv")
    if tested is not None:
        _apply_check(row, tested)
    async with res.db.begin() as s:
        record = await vault.require_active(s, account_id)
        header_names = _set_credential(res, row, resolved, creds, record.udk_gen)
        row.options = _options(resolved, header_names).to_stored()
        await _check_label_free(s, account_id, label)
        if await s.get(ProviderConfig, row.id) is not None:
            raise Conflict("A config with this id exists already. Try again.", field="id")
        s.add(row)
    return view_of(row)


async def update(res: Resources, account_id: str, config_id: str, changes: dict[str, Any],
                 creds: KeyInput) -> ConfigView:
    await res.limits.rate("save", account_id)
    current = await get_owned(res.db, account_id, config_id)
    if "privacy_mode" in changes and changes["privacy_mode"] not in (None, current.privacy_mode):
        raise Invalid(MODE_IS_FIXED, field="privacy_mode")
    if changes.get("provider_id") not in (None, current.provider_id):
        raise Invalid("A config keeps its provider. Add a new config for another provider.", field="provider_id")
    stored = current.options
    resolved = resolve(ConfigInput(
        current.provider_id, base_url=changes.get("base_url", current.base_url if stored.custom_base else None),
        endpoint_type=changes.get("endpoint_type", stored.endpoint_type), values=changes.get("values", stored.values),
        body=changes.get("body", stored.body_text()), model=changes.get("model", stored.model),
    ))
    if resolved.target.base_url != current.base_url:
        await destinations.check_target(res.settings.network, resolved.target)
    new_key = creds.api_key is not None or creds.credential is not None or "headers" in changes
    async with res.db.begin() as s:
        row = await s.get(ProviderConfig, config_id, with_for_update=True)
        if row is None:
            raise NotFound(NO_SUCH_CONFIG)
        record = await vault.require_active(s, account_id)
        if "label" in changes:
            await _relabel(s, row, changes["label"])
        moved = resolved.target.origin != row.dest_origin
        if moved and not new_key and row.credential_ct:
            raise Invalid(f"The base URL now points at another server ({resolved.target.origin}). Enter the key "
                          "again: stored keys only work for the server they were saved for.", field="api_key")
        if row.privacy_mode == "srv" and row.credential_ct and not moved:
            creds = _merge_server_secret(_keep_server_secret(res, row), creds, changes)
        row.base_url, row.dest_origin = resolved.target.base_url, resolved.target.origin
        header_names = stored.header_names
        if new_key or moved or row.privacy_mode == "srv":
            header_names = _set_credential(res, row, resolved, _with_headers(creds, changes), record.udk_gen)
        options = _options(resolved, header_names)
        row.options = options.to_stored()
        before = (current.base_url, _with_names(stored, header_names))
        connection_changed = (resolved.target.base_url, options) != before
        if new_key or connection_changed:
            row.status, row.status_detail = "untested", ""
    return view_of(row)


async def delete(db: Sessions, account_id: str, config_id: str) -> None:
    async with db.begin() as s:
        row = await s.scalar(select(ProviderConfig).where(
            ProviderConfig.id == config_id, ProviderConfig.account_id == account_id))
        if row is None:
            raise NotFound(NO_SUCH_CONFIG)
        await s.delete(row)
        await s.execute(sa_delete(ModelStar).where(ModelStar.account_id == account_id, ModelStar.section == config_id))


async def resolve_origin(res: Resources, data: ConfigInput) -> tuple[str, str]:
    """(base URL, destination origin) for a form, so the browser can bind its envelope; a
    destination the network policy refuses is refused here too, as the person types."""
    target = resolve(data).target
    await destinations.check_target(res.settings.network, target)
    return target.base_url, target.origin


# --- helpers ---------------------------------------------------------------------------------

def _options(resolved: Resolved, header_names: tuple[str, ...]) -> ConfigOptions:
    target = resolved.target
    return ConfigOptions(custom_base=target.custom_base, endpoint_type=target.endpoint_type,
                         values=dict(target.values), header_names=header_names, body=resolved.body,
                         model=resolved.model)


def _with_names(options: ConfigOptions, header_names: tuple[str, ...]) -> ConfigOptions:
    return ConfigOptions(options.custom_base, options.endpoint_type, options.values, header_names, options.body,
                         options.model)


async def _relabel(s: AsyncSession, row: ProviderConfig, label: str) -> None:
    label = check_label(label)
    if label != row.label:
        await _check_label_free(s, row.account_id, label)
    row.label = label


def _with_headers(creds: KeyInput, changes: dict[str, Any]) -> KeyInput:
    if "headers" in changes and creds.credential is None:
        return KeyInput(api_key=creds.api_key, headers=changes["headers"] or "", header_names=creds.header_names)
    return creds


def _merge_server_secret(stored: KeyInput, given: KeyInput, changes: dict[str, Any]) -> KeyInput:
    """What the edit did not replace stays: a new key keeps the headers, new headers keep the key."""
    api_key = given.api_key if given.api_key is not None else stored.api_key
    headers = changes["headers"] or "" if "headers" in changes else stored.headers
    return KeyInput(api_key=api_key, headers=headers)


def _keep_server_secret(res: Resources, row: ProviderConfig) -> KeyInput:
    bundle = vault.open_server_credential(res.keyring, row)
    lines = "\n".join(f"{k}: {v}" for k, v in bundle.get("headers", {}).items())
    return KeyInput(api_key=bundle.get("api_key"), headers=lines)


def _set_credential(res: Resources, row: ProviderConfig, resolved: Resolved, creds: KeyInput,
                    udk_gen: int) -> tuple[str, ...]:
    """Seal (srv) or check (e2e) the row's credential; returns the custom header names it carries."""
    spec = resolved.provider
    if row.privacy_mode == "e2e":
        if creds.api_key is not None:
            raise Invalid("End-to-end keys are sealed in your browser: send the encrypted credential, not the key.",
                          field="api_key")
        if creds.credential is None:
            raise Invalid("An end-to-end config needs its encrypted credential.", field="credential")
        row.credential_ct = vault.check_e2e_envelope(creds.credential, udk_gen)
        row.key_id, row.key_hint = None, None
        return tuple(check_header_names(list(creds.header_names), spec))
    if creds.credential is not None:
        raise Invalid("Server-Accessible configs take the key itself; the server encrypts it.", field="credential")
    api_key = (creds.api_key or "").strip()
    headers = header_values(creds.headers, spec)
    if not api_key and spec.key_policy == "required":
        raise Invalid(f"{spec.name} needs an {spec.key_label}.", field="api_key")
    if not api_key and not headers:
        row.credential_ct, row.key_id, row.key_hint = None, None, None
        return ()
    if api_key:
        check_api_key(spec, api_key)
    vault.seal_server_credential(res.keyring, {"api_key": api_key, "headers": headers}, row)
    row.key_hint = masked_hint(api_key) if api_key else None
    return tuple(sorted(headers))


async def _check_label_free(s: AsyncSession, account_id: str, label: str) -> None:
    taken = await s.scalar(select(ProviderConfig.id).where(
        ProviderConfig.account_id == account_id, ProviderConfig.label == label))
    if taken:
        raise Conflict(f"You already have a config labelled “{label}”. Labels must be unique.", field="label")
