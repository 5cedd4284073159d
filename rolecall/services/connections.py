"""The one way to open a saved provider config for a call: `open_config`.

Where the key comes from is part of the call's type:

* `ServerKey()`: the key the server holds. A Server-Accessible config always uses it (opened
  with the key ring); it is the only key a background job can build, so a job asking for an
  End-to-End config gets `KeyUnavailable` before anything is sent upstream.
* `HandedKey(api_key, headers)`: an End-to-End config's key and custom header values, opened by
  the browser and handed over for one foreground request. Never stored.

The config itself is trusted as stored: it was validated when it was saved, so opening it only
parses the stored layout (`ConfigOptions.from_stored`) and assembles the `providers.Connection`
(`providers.trusted_connection`); a handed key, which is new input, is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, cast

from sqlalchemy import Table, bindparam, select

from rolecall.crypto import KeyRing, Secret
from rolecall.providers import Connection, Provider, check_headers, checked_key, get, trusted_connection
from rolecall.services import vault
from rolecall.services.config_input import header_values, options_errors
from rolecall.services.errors import NotFound, ServiceError
from rolecall.services.resources import Resources
from rolecall.services.stored_config import CORRUPT, ConfigOptions, ConfigView, StoredConfigCorrupt
from rolecall.storage import direct
from rolecall.storage.tables import ProviderConfig

E2E_IN_BACKGROUND = ("End-to-end encrypted keys can't be used by background jobs; "
                     "add a Server-Accessible config")


class KeyUnavailable(ServiceError):
    """The caller cannot supply this config's key (an End-to-End config asked for with `ServerKey`)."""

    status = 409
    code = "key_unavailable"


@dataclass(frozen=True)
class ServerKey:
    """Use the key the server holds: Server-Accessible configs only."""


@dataclass(frozen=True, repr=False)
class HandedKey:
    """An End-to-End config's key and custom header values, handed over by the browser for one call."""

    api_key: Secret | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, api_key: str | None, headers: str = "") -> HandedKey:
        """From the request body: the key (wrapped at once) and the `key: value` header lines."""
        return cls(Secret(api_key) if api_key else None, header_values(headers))

    def __repr__(self) -> str:
        return f"HandedKey(api_key={'None' if self.api_key is None else '[secret]'}, headers={sorted(self.headers)!r})"


Key = ServerKey | HandedKey


@dataclass(frozen=True)
class OpenConfig:
    """A saved config opened for one call: `connection` is ready for the provider's adapter."""

    config_id: str
    account_id: str
    label: str
    privacy_mode: str
    provider: Provider
    connection: Connection
    options: ConfigOptions


class LoadedConfig(Protocol):
    """What opening reads: a `ConfigView`, a `ProviderConfig` row or a row of `COLUMNS`."""

    @property
    def id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def provider_id(self) -> str: ...
    @property
    def privacy_mode(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def dest_origin(self) -> str: ...
    @property
    def credential_ct(self) -> str | None: ...


class StoredRow(LoadedConfig, Protocol):
    """A config as stored (a row of `COLUMNS`, or a `ProviderConfig`): opened by `open_row`."""

    @property
    def options(self) -> object: ...


async def open_config(res: Resources, account_id: str, config_id: str, key: Key) -> OpenConfig:
    """The account's config ``config_id``, opened with ``key``.

    Raises `NotFound` (no such config for this account), `KeyUnavailable` (an End-to-End config
    with `ServerKey`), `StoredConfigCorrupt`, or `Invalid` (the stored key cannot be decrypted;
    a handed key or header a provider cannot take).
    """
    row = await direct.first(res.db, OPENED_ONE, {"id_": config_id, "account_": account_id})
    if row is None:
        raise NotFound("No such provider config.")
    return _open(res.keyring, row, key, ConfigOptions.from_stored(row.options))


class ColumnsRow(NamedTuple):
    """A row of `COLUMNS`: what opening a config reads (made from a slice of a wider row, where a
    statement joins the config to what names it)."""

    id: str
    account_id: str
    label: str
    provider_id: str
    privacy_mode: str
    base_url: str
    dest_origin: str
    credential_ct: str | None
    options: object


# What opening reads, as plain columns with bind parameters, built once: no ORM instance, no
# per-call statement building (the list and the other large columns stay in the database).
_TABLE = cast(Table, ProviderConfig.__table__)
COLUMNS = tuple(_TABLE.c[name] for name in ColumnsRow._fields)
OPENED = select(*COLUMNS).where(_TABLE.c.id == bindparam("id_"), _TABLE.c.account_id == bindparam("account_"))
OPENED_ONE = direct.Query(OPENED)
# The same for several ids: a walk's configs read in one query.
OPENED_MANY = select(*COLUMNS).where(_TABLE.c.id.in_(bindparam("ids_", expanding=True)),
                                     _TABLE.c.account_id == bindparam("account_"))


def open_view(keyring: KeyRing, view: ConfigView, key: Key) -> OpenConfig:
    """Open a config a caller already holds as a view (no second query)."""
    if view.damaged:
        raise StoredConfigCorrupt(CORRUPT)
    return _open(keyring, view, key, view.options)


def open_row(keyring: KeyRing, row: StoredRow, key: Key) -> OpenConfig:
    """Open a row a service already loaded (a job that knows only the config id, say)."""
    return _open(keyring, row, key, ConfigOptions.from_stored(row.options))


def _open(keyring: KeyRing, config: LoadedConfig, key: Key, options: ConfigOptions) -> OpenConfig:
    try:
        spec = get(config.provider_id)
    except KeyError:
        raise StoredConfigCorrupt(CORRUPT) from None
    if config.privacy_mode == "srv":
        api_key, headers = _server_secret(keyring, config)
    elif isinstance(key, HandedKey):
        api_key, headers = _handed_secret(spec, key)
    else:
        raise KeyUnavailable(E2E_IN_BACKGROUND)
    connection = trusted_connection(
        spec, base_url=config.base_url, custom_base=options.custom_base, endpoint_type=options.endpoint_type,
        values=options.values, headers=headers, body=options.body, model=options.model, api_key=api_key,
    )
    return OpenConfig(config.id, config.account_id, config.label, config.privacy_mode, spec, connection, options)


def _server_secret(keyring: KeyRing, config: LoadedConfig) -> tuple[Secret | None, Mapping[str, str]]:
    # The bundle was checked before the server sealed it; it is used as it is.
    if not config.credential_ct:
        return None, {}
    bundle = vault.open_server_credential(keyring, config)
    api_key = bundle.get("api_key")
    return (Secret(api_key) if api_key else None), bundle.get("headers") or {}


def _handed_secret(spec: Provider, key: HandedKey) -> tuple[Secret | None, Mapping[str, str]]:
    # New input from the browser: checked like a key typed into the form.
    with options_errors(spec):
        api_key = checked_key(spec, key.api_key)
        headers = check_headers(key.headers)
    return (Secret(api_key) if isinstance(api_key, str) else api_key), headers
