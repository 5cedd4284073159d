"""Opening a walk's entries for their calls (`services.chain_run`): the Premiere Theater's model
with the operator's key, or a provider config with its key (a Server-Accessible one with the key
ring, an End-to-End one with the key the page handed over for this request). An entry that cannot
be opened is a `Miss`, which the walk logs and passes over."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from rolecall.providers import Connection, Provider, get
from rolecall.services import connections, premiere
from rolecall.services.chain_errors import Miss
from rolecall.services.errors import Invalid, NotFound
from rolecall.services.fallback import Planned
from rolecall.services.generation_errors import GenerationError, refusal
from rolecall.services.resources import Resources
from rolecall.services.stored_config import StoredConfigCorrupt

KEY_NOT_HANDED = "This end-to-end config's key wasn't handed over for this message"
# An End-to-End config's key, per config id; Server-Accessible configs use the server's key.
Keys = Mapping[str, connections.HandedKey]


@dataclass(frozen=True)
class Hop:
    """An entry opened for a call."""

    entry: Planned
    provider: Provider
    connection: Connection
    http: httpx.AsyncClient
    config_id: str | None  # None for the Premiere Theater
    privacy_mode: str | None
    label: str
    call: premiere.PremiereCall | None = None

    @property
    def section(self) -> str:
        return self.entry.section


class Opener:
    """Opens the entries of one walk; a config opened once serves its other models at no cost."""

    def __init__(self, res: Resources, account_id: str, walk: Sequence[Planned], keys: connections.Key | Keys, *,
                 background: bool, loaded: Mapping[str, connections.StoredRow] | None = None) -> None:
        """``loaded``: config rows the caller already read, by id (opened without a second query)."""
        self.res, self.account_id, self.walk, self.keys, self.background = res, account_id, walk, keys, background
        self.loaded = dict(loaded or {})
        self._opened: dict[str, connections.OpenConfig] = {}

    async def preload(self) -> None:
        """Read every config of the walk in one query, so a fallback hop costs no extra round trip."""
        entries = [e for e in self.walk if not e.skip and e.section != premiere.SECTION]
        ids = {e.section for e in entries} - set(self.loaded)
        if len(entries) < 2 or not ids:
            return  # one config to open: `open_config` reads it, the same one query
        async with self.res.db() as s:
            rows = await s.execute(connections.OPENED_MANY, {"ids_": sorted(ids), "account_": self.account_id})
            self.loaded.update({row.id: row for row in rows})

    def key_for(self, entry: Planned) -> connections.Key | None:
        """The key to open ``entry`` with; None when an End-to-End config's key was not handed over."""
        if entry.privacy_mode != "e2e":
            return connections.ServerKey()
        if isinstance(self.keys, connections.ServerKey):
            return None
        if isinstance(self.keys, connections.HandedKey):  # one key: the walk's first End-to-End config only
            first = next(e for e in self.walk if e.privacy_mode == "e2e")
            return self.keys if entry.position == first.position else None
        return self.keys.get(entry.section)

    async def open(self, entry: Planned) -> Hop | Miss:
        if entry.section == premiere.SECTION:
            try:
                call = premiere.open_model(self.res, entry.model_id)
            except (NotFound, premiere.PremiereUnavailable) as exc:
                return _miss(entry, "premiere_unavailable", exc.message,
                             refusal("premiere_unavailable", message=exc.message))
            return Hop(entry, get(call.provider_id), call.connection, call.http, None, None, premiere.LABEL, call)
        key = self.key_for(entry)
        if key is None:
            if self.background:
                return _miss(entry, "key_unavailable", connections.E2E_IN_BACKGROUND,
                             refusal("key_needed", entry.section, connections.E2E_IN_BACKGROUND))
            return _miss(entry, "key_unavailable", KEY_NOT_HANDED, refusal("key_needed", entry.section))
        try:
            config = self._opened.get(entry.section)
            if config is None:
                row = self.loaded.get(entry.section)
                config = (connections.open_row(self.res.keyring, row, key) if row is not None
                          else await connections.open_config(self.res, self.account_id, entry.section, key))
                self._opened[entry.section] = config
        except NotFound:
            return _miss(entry, "broken", "The provider config was deleted", refusal("config_gone"))
        except connections.KeyUnavailable as exc:
            return _miss(entry, "key_unavailable", exc.message, refusal("key_needed", entry.section))
        except StoredConfigCorrupt as exc:
            return _miss(entry, "config_broken", exc.message, refusal("config_broken", entry.section))
        except Invalid as exc:  # the handed key cannot be this provider's, or the stored one cannot be opened
            return _miss(entry, "auth", exc.message,
                         GenerationError("auth", "The key was rejected", exc.message, entry.section))
        return Hop(entry, config.provider, config.connection, self.res.http, config.config_id, config.privacy_mode,
                   config.label)


def _miss(entry: Planned, kind: str, reason: str, error: GenerationError) -> Miss:
    return Miss(entry, kind, reason, error, False)
