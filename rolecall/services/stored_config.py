"""A saved provider config as the services hand it out: its typed options and its view.

The ``options`` column holds what passed validation at save time (`config_input.resolve`), in
one layout, read and written only by `ConfigOptions`. Reading it is a strict parse, not a
re-validation: a row that does not have exactly that layout was not written by RoleCall, and
opening it raises `StoredConfigCorrupt` instead of guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer

from rolecall.services.errors import ServiceError
from rolecall.storage.db import Sessions
from rolecall.storage.tables import ProviderConfig

_FIELDS = frozenset({"custom_base", "endpoint_type", "values", "header_names", "body", "model"})
CORRUPT = "This config's stored settings are damaged. Delete it and add it again."


class StoredConfigCorrupt(ServiceError):
    """A stored config does not have the layout RoleCall writes (tampering or a bad migration)."""

    status = 500
    code = "stored_config_corrupt"


@dataclass(frozen=True)
class ConfigOptions:
    """A config's validated options: how its target was resolved and what it adds to each call.

    ``custom_base``: the base URL came from the person (else the registry's endpoint);
    ``values``: provider fields; ``header_names``: custom header names (their values are sealed
    with the key); ``body``: custom body params; ``model``: the pinned Model ID, if any.
    """

    custom_base: bool
    endpoint_type: str
    values: Mapping[str, str]
    header_names: tuple[str, ...]
    body: Mapping[str, Any]
    model: str | None

    @classmethod
    def from_stored(cls, data: object) -> ConfigOptions:
        """Parse the ``options`` column; anything but the exact layout raises `StoredConfigCorrupt`."""
        if not isinstance(data, dict) or data.keys() != _FIELDS:
            raise StoredConfigCorrupt(CORRUPT)
        custom_base, endpoint_type, values = data["custom_base"], data["endpoint_type"], data["values"]
        header_names, body, model = data["header_names"], data["body"], data["model"]
        if not (isinstance(custom_base, bool) and isinstance(endpoint_type, str) and isinstance(body, dict)
                and (model is None or isinstance(model, str)) and _str_map(values) and _str_list(header_names)):
            raise StoredConfigCorrupt(CORRUPT)
        return cls(custom_base, endpoint_type, dict(values), tuple(header_names), dict(body), model)

    def to_stored(self) -> dict[str, Any]:
        return {
            "custom_base": self.custom_base, "endpoint_type": self.endpoint_type, "values": dict(self.values),
            "header_names": list(self.header_names), "body": dict(self.body), "model": self.model,
        }

    def body_text(self) -> str:
        """The body params as the form shows them (JSON), "" when there are none."""
        return json.dumps(self.body) if self.body else ""


def _str_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


@dataclass(frozen=True)
class ConfigView:
    """One saved config, read-only. ``credential_ct`` is the sealed envelope (never a key): the
    browser opens an E2E one; a Server-Accessible one is only ever opened by `connections`."""

    id: str
    account_id: str
    label: str
    provider_id: str
    privacy_mode: str
    base_url: str
    dest_origin: str
    options: ConfigOptions
    status: str
    status_detail: str
    last_tested_at: datetime | None
    key_hint: str | None
    credential_ct: str | None
    models_count: int
    damaged: bool = False  # listed only so it can be deleted: its options could not be read


_NO_OPTIONS = ConfigOptions(custom_base=False, endpoint_type="", values={}, header_names=(), body={}, model=None)


def view_of(row: ProviderConfig) -> ConfigView:
    """The view of a loaded row; `StoredConfigCorrupt` if its options are damaged."""
    return _view(row, ConfigOptions.from_stored(row.options))


def listed_view(row: ProviderConfig) -> ConfigView:
    """For a list: a damaged row still shows up (Invalid, saying why) so its owner can delete it."""
    try:
        return view_of(row)
    except StoredConfigCorrupt:
        return replace(_view(row, _NO_OPTIONS), status="invalid", status_detail=CORRUPT, damaged=True)


def _view(row: ProviderConfig, options: ConfigOptions) -> ConfigView:
    return ConfigView(
        id=row.id, account_id=row.account_id, label=row.label, provider_id=row.provider_id,
        privacy_mode=row.privacy_mode, base_url=row.base_url, dest_origin=row.dest_origin, options=options,
        status=row.status, status_detail=row.status_detail, last_tested_at=row.last_tested_at, key_hint=row.key_hint,
        credential_ct=row.credential_ct, models_count=row.models_count or 0,
    )


async def load_owned(
    db: Sessions, account_id: str, config_id: str, *, with_models: bool = True
) -> ProviderConfig | None:
    """The account's row with this id, or None (another account's config is "no such config").

    Without ``with_models`` the model list (the largest column) is not read.
    """
    query = select(ProviderConfig).where(ProviderConfig.id == config_id, ProviderConfig.account_id == account_id)
    if not with_models:
        query = query.options(defer(ProviderConfig.models))
    async with db() as s:
        return await s.scalar(query)
