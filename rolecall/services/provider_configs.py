"""BYOK provider configs: create, list, test, edit and delete a person's provider connections.

Privacy modes (guide §3a): ``e2e`` rows hold an envelope sealed in the browser (the key never
reaches this module except for the one foreground call that tests it); ``srv`` rows are sealed
here under the key ring. Either way the credential is bound to the row's owner, id, provider and
destination origin, so moving a config to another origin needs the key again. Custom header
values are secrets too: they travel inside the sealed bundle; only their names are stored.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import select

from rolecall.crypto import masked_hint
from rolecall.net import origin_of
from rolecall.providers import Connection
from rolecall.services import key_tests, vault
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
from rolecall.services.key_tests import TestOutcome
from rolecall.storage.tables import ModelStar, ProviderConfig, utcnow

MODE_IS_FIXED = ("The privacy mode can't be changed after saving. Delete this config and create it again "
                 "in the other mode.")


@dataclass(frozen=True)
class Credentials:
    """What a person supplies for a key: plaintext for srv (and for any test), an envelope for e2e."""

    api_key: str | None = None
    headers: str = ""
    credential: str | None = None
    header_names: tuple[str, ...] = ()


# --- reading ---------------------------------------------------------------------------------

async def list_configs(db: Any, account_id: str) -> list[ProviderConfig]:
    async with db() as s:
        rows = await s.scalars(select(ProviderConfig).where(ProviderConfig.account_id == account_id)
                               .order_by(ProviderConfig.created_at))
        return list(rows)


async def get_owned(db: Any, account_id: str, config_id: str) -> ProviderConfig:
    async with db() as s:
        row = await s.scalar(select(ProviderConfig).where(
            ProviderConfig.id == config_id, ProviderConfig.account_id == account_id))
    if row is None:
        raise NotFound("No such provider config.")
    return row


async def e2e_credentials(db: Any, account_id: str) -> list[dict[str, str]]:
    async with db() as s:
        rows = await s.scalars(select(ProviderConfig).where(
            ProviderConfig.account_id == account_id, ProviderConfig.privacy_mode == "e2e"))
        return [{"config_id": r.id, "provider_id": r.provider_id, "dest_origin": r.dest_origin,
                 "credential": r.credential_ct or ""} for r in rows]


# --- testing ---------------------------------------------------------------------------------

async def test_unsaved(res: Any, account_id: str, data: ConfigInput, api_key: str | None) -> TestOutcome:
    """Test before saving. For E2E the plaintext is here for this one call and is never stored."""
    async with res.db() as s:
        await vault.require_active(s, account_id)
    resolved = resolve(data)
    outcome = await key_tests.run_check(res.http, resolved, api_key, resolved.headers)
    return await key_tests.remember(res.cache, outcome, account_id=account_id, provider_id=data.provider_id,
                                    target_url=resolved.target.base_url, api_key=api_key)


async def test_saved(res: Any, account_id: str, config_id: str, secret: Credentials) -> TestOutcome:
    """Test Key on a card: re-run the check, refresh the status and the cached model list."""
    row = await get_owned(res.db, account_id, config_id)
    resolved = resolve(_stored_input(row))
    if row.privacy_mode == "srv":
        api_key, headers = _server_secret(res, row)
    else:
        api_key, headers = secret.api_key, header_values(secret.headers)
    outcome = await key_tests.run_check(res.http, resolved, api_key, headers)
    await _record_outcome(res.db, row.id, outcome)
    return outcome


def _server_secret(res: Any, row: ProviderConfig) -> tuple[str | None, dict[str, str]]:
    bundle = vault.open_server_credential(res.keyring, row) if row.credential_ct else {}
    return bundle.get("api_key"), bundle.get("headers", {})


def server_connection(res: Any, row: ProviderConfig) -> Connection:
    """A saved Server-Accessible config, opened for a background call (the server holds its key)."""
    api_key, headers = _server_secret(res, row)
    return key_tests.connection(resolve(_stored_input(row)), api_key, headers)


async def _record_outcome(db: Any, config_id: str, outcome: TestOutcome) -> None:
    if outcome.status == "unchecked":  # 429, 5xx, network: not a verdict on the key
        return
    async with db.begin() as s:
        row = await s.get(ProviderConfig, config_id)
        if row is None:
            return
        row.status, row.status_detail, row.last_tested_at = outcome.status, outcome.detail, utcnow()
        if outcome.status == "valid":
            row.models, row.models_fetched_at = outcome.models, utcnow()
            _remember_discovered_base(row, outcome.base_url)


def _remember_discovered_base(row: ProviderConfig, base_url: str) -> None:
    # A Custom endpoint answered under /v1 or /api/v1: keep that path (same origin, same key binding).
    if base_url != row.base_url and origin_of(base_url) == row.dest_origin:
        row.base_url = base_url


async def mark_invalid(db: Any, config_id: str, detail: str) -> None:
    """A live generation got an auth error: the pill turns Invalid (guide §8)."""
    async with db.begin() as s:
        row = await s.get(ProviderConfig, config_id)
        if row is not None:
            row.status, row.status_detail, row.last_tested_at = "invalid", detail, utcnow()


# --- creating and editing --------------------------------------------------------------------

async def create(res: Any, account_id: str, label: str, mode: str, data: ConfigInput, creds: Credentials,
                 config_id: str | None = None, test_id: str | None = None) -> ProviderConfig:
    label, mode = check_label(label), check_mode(mode)
    resolved = resolve(data)
    row = ProviderConfig(
        id=check_config_id(config_id) if mode == "e2e" or config_id else str(uuid.uuid4()), account_id=account_id,
        provider_id=resolved.provider.id, label=label, privacy_mode=mode, status="untested", status_detail="",
    )
    _apply_target(row, resolved)
    tested = await key_tests.recall(res.cache, test_id, account_id=account_id, provider_id=row.provider_id,
                                    target_url=resolved.target.base_url, api_key=creds.api_key,
                                    check_key=mode == "srv")
    if tested is not None and tested.status != "unchecked":
        row.status, row.status_detail, row.last_tested_at = tested.status, tested.detail, utcnow()
        if tested.status == "valid":
            row.models, row.models_fetched_at = tested.models, utcnow()
            _remember_discovered_base(row, tested.base_url)
    async with res.db.begin() as s:
        record = await vault.require_active(s, account_id)
        _set_credential(res, row, resolved, creds, record.udk_gen)
        await _check_label_free(s, account_id, label)
        if await s.get(ProviderConfig, row.id) is not None:
            raise Conflict("A config with this id exists already. Try again.", field="id")
        s.add(row)
    return row


async def update(res: Any, account_id: str, config_id: str, changes: dict[str, Any], creds: Credentials) -> ProviderConfig:
    current = await get_owned(res.db, account_id, config_id)
    if "privacy_mode" in changes and changes["privacy_mode"] not in (None, current.privacy_mode):
        raise Invalid(MODE_IS_FIXED, field="privacy_mode")
    if changes.get("provider_id") not in (None, current.provider_id):
        raise Invalid("A config keeps its provider. Add a new config for another provider.", field="provider_id")
    stored = _stored_input(current)
    data = ConfigInput(
        current.provider_id,
        base_url=changes.get("base_url", stored.base_url), endpoint_type=changes.get("endpoint_type", stored.endpoint_type),
        values=changes.get("values", stored.values), body=changes.get("body", stored.body),
        model=changes.get("model", stored.model),
    )
    resolved = resolve(data)
    new_key = creds.api_key is not None or creds.credential is not None or "headers" in changes
    connection_changed = new_key or data != stored
    async with res.db.begin() as s:
        row = await s.get(ProviderConfig, config_id, with_for_update=True)
        record = await vault.require_active(s, account_id)
        if "label" in changes:
            label = check_label(changes["label"])
            if label != row.label:
                await _check_label_free(s, account_id, label)
            row.label = label
        moved = resolved.target.origin != row.dest_origin
        if moved and not new_key and row.credential_ct:
            raise Invalid(f"The base URL now points at another server ({resolved.target.origin}). Enter the key "
                          "again: stored keys only work for the server they were saved for.", field="api_key")
        if row.privacy_mode == "srv" and row.credential_ct and not moved:
            creds = _merge_server_secret(_keep_server_secret(res, row), creds, changes)
        _apply_target(row, resolved)
        if new_key or moved or row.privacy_mode == "srv":
            _set_credential(res, row, resolved, _with_headers(creds, changes), record.udk_gen)
        if connection_changed:
            row.status, row.status_detail = "untested", ""
    return row


async def delete(db: Any, account_id: str, config_id: str) -> None:
    async with db.begin() as s:
        row = await s.scalar(select(ProviderConfig).where(
            ProviderConfig.id == config_id, ProviderConfig.account_id == account_id))
        if row is None:
            raise NotFound("No such provider config.")
        await s.delete(row)
        await s.execute(sa_delete(ModelStar).where(ModelStar.account_id == account_id, ModelStar.section == config_id))


def resolve_origin(data: ConfigInput) -> tuple[str, str]:
    """(base URL, destination origin) for a form, so the browser can bind its envelope."""
    target = resolve(data).target
    return target.base_url, target.origin


# --- helpers ---------------------------------------------------------------------------------

def _apply_target(row: ProviderConfig, resolved: Resolved) -> None:
    target = resolved.target
    row.base_url, row.dest_origin = target.base_url, target.origin
    row.options = {
        "custom_base": target.custom_base, "endpoint_type": target.endpoint_type, "values": dict(target.values),
        "header_names": row.options.get("header_names", []) if row.options else [], "body": resolved.body,
        "model": resolved.model,
    }


def _stored_input(row: ProviderConfig) -> ConfigInput:
    options = row.options or {}
    return ConfigInput(
        row.provider_id, base_url=row.base_url if options.get("custom_base") else None,
        endpoint_type=options.get("endpoint_type"), values=options.get("values", {}),
        body=json.dumps(options["body"]) if options.get("body") else "", model=options.get("model"),
    )


def _with_headers(creds: Credentials, changes: dict[str, Any]) -> Credentials:
    if "headers" in changes and creds.credential is None:
        return Credentials(api_key=creds.api_key, headers=changes["headers"] or "", header_names=creds.header_names)
    return creds


def _merge_server_secret(stored: Credentials, given: Credentials, changes: dict[str, Any]) -> Credentials:
    """What the edit did not replace stays: a new key keeps the headers, new headers keep the key."""
    api_key = given.api_key if given.api_key is not None else stored.api_key
    headers = changes["headers"] or "" if "headers" in changes else stored.headers
    return Credentials(api_key=api_key, headers=headers)


def _keep_server_secret(res: Any, row: ProviderConfig) -> Credentials:
    bundle = vault.open_server_credential(res.keyring, row)
    lines = "\n".join(f"{k}: {v}" for k, v in bundle.get("headers", {}).items())
    return Credentials(api_key=bundle.get("api_key"), headers=lines)


def _set_credential(res: Any, row: ProviderConfig, resolved: Resolved, creds: Credentials, udk_gen: int) -> None:
    spec = resolved.provider
    if row.privacy_mode == "e2e":
        if creds.api_key is not None:
            raise Invalid("End-to-end keys are sealed in your browser: send the encrypted credential, not the key.",
                          field="api_key")
        if creds.credential is None:
            raise Invalid("An end-to-end config needs its encrypted credential.", field="credential")
        row.credential_ct = vault.check_e2e_envelope(creds.credential, udk_gen)
        row.key_id, row.key_hint = None, None
        row.options = {**row.options, "header_names": check_header_names(list(creds.header_names))}
        return
    if creds.credential is not None:
        raise Invalid("Server-Accessible configs take the key itself; the server encrypts it.", field="credential")
    api_key = (creds.api_key or "").strip()
    headers = header_values(creds.headers)
    if not api_key and spec.key_policy == "required":
        raise Invalid(f"{spec.name} needs an {spec.key_label}.", field="api_key")
    row.options = {**row.options, "header_names": sorted(headers)}
    if not api_key and not headers:
        row.credential_ct, row.key_id, row.key_hint = None, None, None
        return
    if api_key:
        check_api_key(spec, api_key)
    vault.seal_server_credential(res.keyring, {"api_key": api_key, "headers": headers}, row)
    row.key_hint = masked_hint(api_key) if api_key else None


async def _check_label_free(s: Any, account_id: str, label: str) -> None:
    taken = await s.scalar(select(ProviderConfig.id).where(
        ProviderConfig.account_id == account_id, ProviderConfig.label == label))
    if taken:
        raise Conflict(f"You already have a config labelled “{label}”. Labels must be unique.", field="label")

