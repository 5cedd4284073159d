"""Check a provider key (the guide's Test Key): run the provider's own key check and explain the
outcome in the guide's words.

A test before saving is remembered for 15 minutes under a random ``test_id`` (in the shared
cache, so another replica can take the Save), bound to the account, the provider, the target URL
and a salted digest of the key: "Save after Test keeps the result" cannot be replayed for another key.
"""

from __future__ import annotations

import hashlib
import operator
import secrets
from dataclasses import dataclass, field, fields, replace
from typing import Any

import httpx
import orjson

from rolecall.crypto import Secret
from rolecall.net import origin_of
from rolecall.providers import (
    Connection,
    ModelInfo,
    ProviderError,
    checked_key,
    explain,
    headline,
    protocol_for,
    trusted_connection,
)
from rolecall.services.config_input import Resolved, options_errors
from rolecall.storage.cache import Cache

VALID_HEADLINE = "Valid"
VALID_TEXT = "The key works. The provider returned a model list."
TEST_TTL = 15 * 60
# A provider may list anything; a config keeps a bounded list (memory per Test, catalog size).
MAX_MODELS = 5000
MAX_MODEL_ID = 256  # as a model star's id
MAX_MODEL_NAME = 200


@dataclass(frozen=True)
class KeyCheck:
    status: str  # valid | invalid | unchecked (couldn't check: the pill keeps its state)
    headline: str
    explanation: str
    base_url: str
    dest_origin: str
    kind: str | None = None
    http_status: int | None = None
    retry_after: float | None = None
    models: list[dict[str, Any]] = field(default_factory=list)
    test_id: str | None = None
    note: str = ""  # e.g. the provider's list was cut to MAX_MODELS

    @property
    def detail(self) -> str:
        if self.status == "valid":
            return ""
        # Some explanations already open with their headline ("Destination not allowed: ..."): once.
        if self.explanation.startswith(self.headline):
            return self.explanation
        return f"{self.headline}: {self.explanation}"


def model_rows(models: tuple[ModelInfo, ...] | list[ModelInfo]) -> list[dict[str, Any]]:
    """The rows to store: at most MAX_MODELS, ids up to MAX_MODEL_ID characters, names clipped.

    A shallow copy of each row's fields (``dataclasses.asdict`` deep-copies every value: half of
    a Test's time); the only container, the capabilities set, becomes a sorted list.
    """
    last_models, last_rows = _LAST_ROWS
    if len(models) == len(last_models) and all(map(operator.is_, models, last_models)):
        return list(last_rows)  # the very models turned into rows last time (`models_from_json` keeps them)
    rows: list[dict[str, Any]] = []
    for model in models:
        if len(model.id) > MAX_MODEL_ID:
            continue
        row = vars(model).copy()  # ModelInfo has no __slots__: its fields are its __dict__
        row["capabilities"] = sorted(model.capabilities) if model.capabilities else []
        if model.name is not None and len(model.name) > MAX_MODEL_NAME:
            row["name"] = model.name[:MAX_MODEL_NAME]
        rows.append(row)
        if len(rows) == MAX_MODELS:
            break
    _LAST_ROWS[:] = (tuple(models), rows)
    return list(rows)


# (the models last turned into rows, those rows): the rows are never changed once made.
_LAST_ROWS: list[Any] = [(), []]


def models_note(listed: int, kept: int) -> str:
    """What the result says when the stored list is shorter than the provider's."""
    if kept >= listed:
        return ""
    return (f"The provider listed {listed:,} models; RoleCall keeps {kept:,} of them (at most {MAX_MODELS:,} per "
            f"config, with ids of at most {MAX_MODEL_ID} characters).")


def unsaved_connection(resolved: Resolved, api_key: str | None, headers: dict[str, str]) -> Connection:
    """A form `resolve` just validated, plus its key (checked, wrapped so it never prints)."""
    spec, target = resolved.provider, resolved.target
    with options_errors(spec):
        key = checked_key(spec, Secret(api_key) if api_key else None)
    return trusted_connection(
        spec, base_url=target.base_url, custom_base=target.custom_base, endpoint_type=target.endpoint_type,
        values=target.values, headers=headers, body=resolved.body, model=resolved.model,
        api_key=Secret(key) if isinstance(key, str) else key,
    )


async def run_check(http: httpx.AsyncClient, conn: Connection) -> KeyCheck:
    """The provider's own key check on ``conn``, in the guide's words."""
    check = await protocol_for(conn.provider.protocol).test_key(conn, http)
    base_url = check.base_url or conn.base_url
    origin = origin_of(conn.base_url)
    if check.status == "valid":
        rows = model_rows(check.models)
        return KeyCheck("valid", VALID_HEADLINE, VALID_TEXT, base_url, origin, models=rows,
                        note=models_note(len(check.models), len(rows)))
    return _failed(check.status, check.error, base_url, origin)


def timed_out(conn: Connection, deadline: float) -> KeyCheck:
    """The check ran past its overall deadline (an upstream trickling bytes, or never finishing)."""
    error = ProviderError("timeout", f"No complete answer within {deadline:g} seconds.")
    return _failed("unchecked", error, conn.base_url, origin_of(conn.base_url))


def _failed(status: str, error: ProviderError | None, base_url: str, origin: str) -> KeyCheck:
    if error is None:  # an adapter must say why; be honest if it did not
        return KeyCheck(status, "Couldn't check", "The provider gave no usable answer. Try again.", base_url, origin)
    return KeyCheck(status, headline(error), explain(error), base_url, origin, kind=error.kind,
                       http_status=error.status, retry_after=error.retry_after)


_OUTCOME_FIELDS = tuple(f.name for f in fields(KeyCheck))


def _digest(test_id: str, api_key: str | None) -> str:
    return hashlib.sha256(f"{test_id}:{api_key or ''}".encode()).hexdigest()


async def remember(cache: Cache, outcome: KeyCheck, *, account_id: str, provider_id: str,
                   target_url: str, api_key: str | None) -> KeyCheck:
    test_id = secrets.token_urlsafe(16)
    record = {
        "account_id": account_id, "provider_id": provider_id, "target_url": target_url,
        "key": _digest(test_id, api_key), "outcome": {name: getattr(outcome, name) for name in _OUTCOME_FIELDS},
    }
    # orjson: the record carries the whole model list (~0.5 ms through `json` at 250 models, 0.05 here).
    await cache.set(f"keytest:{test_id}", orjson.dumps(record), ttl=TEST_TTL)
    return replace(outcome, test_id=test_id)


async def recall(cache: Cache, test_id: str | None, *, account_id: str, provider_id: str, target_url: str,
                 api_key: str | None, check_key: bool) -> KeyCheck | None:
    """The remembered outcome if it was for exactly this config and key; otherwise None."""
    if not test_id:
        return None
    raw = await cache.get(f"keytest:{test_id}")
    if raw is None:
        return None
    record = orjson.loads(raw)
    same = (record["account_id"], record["provider_id"], record["target_url"]) == (account_id, provider_id, target_url)
    if not same or (check_key and record["key"] != _digest(test_id, api_key)):
        return None
    return KeyCheck(**record["outcome"])
