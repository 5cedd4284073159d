"""The Premiere Theater: the operator's hosted models, opened for a call.

The operator lists upstreams and models in the ``[premiere]`` settings section (see README.md,
"The Premiere Theater"). This module is the only code that reads the operator's keys (from the
environment variable or file an upstream names), and it builds a Premiere connection from the
operator's settings alone: no person's base URL, custom headers or custom body params ever join
an operator key. Preset samplers travel as typed request fields, as for any other model.

The token balance that meters this theater lives in ``services.token_balance``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from rolecall.config import PremiereModel, PremiereSettings, PremiereUpstream, Settings
from rolecall.crypto import Secret
from rolecall.net import NetworkPolicy
from rolecall.providers import Connection, OptionsError, Usage, connect, get
from rolecall.services import token_balance
from rolecall.services.errors import NotFound, ServiceError
from rolecall.services.resources import Resources

SECTION = "premiere"
LABEL = "Premiere Theater"
# Keys read from files, by path: (modification time, key). A rotated file is read again.
_FILE_KEYS: dict[Path, tuple[float, str]] = {}


class PremiereUnavailable(ServiceError):
    """The model is not offered, or its upstream cannot be opened (no key configured)."""

    status = 503
    code = "premiere_unavailable"


@dataclass(frozen=True)
class PremiereCall:
    """One Premiere model opened for a call. ``connection`` pins the upstream's model id."""

    model_id: str
    upstream_model: str
    provider_id: str
    connection: Connection
    http: httpx.AsyncClient
    input_price: float | None
    output_price: float | None


def offered(settings: Settings) -> list[PremiereModel]:
    """The hosted models, in the operator's order."""
    return list(settings.premiere.models)


def catalog_rows(settings: Settings) -> list[dict[str, Any]]:
    """Model rows for the catalog's Premiere section (the shape of `providers.ModelInfo`)."""
    return [
        {"id": m.id, "name": m.name, "context_window": m.context_window, "max_output": m.max_output,
         "capabilities": list(m.capabilities), "input_price": m.input_price, "output_price": m.output_price,
         "source": "static"}
        for m in settings.premiere.models
    ]


def find(settings: Settings, model_id: str) -> PremiereModel:
    for model in settings.premiere.models:
        if model.id == model_id:
            return model
    raise NotFound(f"The Premiere Theater does not offer {model_id!r}.")


def open_model(res: Resources, model_id: str) -> PremiereCall:
    """A ready connection to the upstream serving ``model_id``, with the operator's key.

    Raises `NotFound` (not offered) or `PremiereUnavailable` (the upstream's key is missing or
    its configuration cannot be used). The error never contains the key.
    """
    premiere = res.settings.premiere
    model = find(res.settings, model_id)
    upstream = _upstream(premiere, model.upstream)
    spec = get(upstream.provider)
    key = operator_key(upstream)
    declared = upstream.api_key_env or upstream.api_key_file
    if key is None and (declared or spec.needs_key):
        raise PremiereUnavailable(f"{LABEL}: the operator's key for upstream {upstream.id!r} is not configured.")
    target_model = model.upstream_model or model.id
    try:
        conn = connect(spec, api_key=Secret(key) if key else None, base_url=upstream.base_url, model=target_model)
    except OptionsError as exc:
        raise PremiereUnavailable(f"{LABEL}: upstream {upstream.id!r} is misconfigured ({exc.field}).") from None
    http = res.premiere_http or res.http
    return PremiereCall(model.id, target_model, spec.id, conn, http, model.input_price, model.output_price)


def breaker_key(settings: Settings, model_id: str) -> str:
    """The circuit-breaker id of a Premiere model: its upstream (one outage closes all its models)."""
    return f"premiere:{find(settings, model_id).upstream}"


async def charge(res: Resources, account_id: str, call: PremiereCall, usage: Usage | None, prompt_text: str,
                 output_text: str, *, usage_id: str | None = None) -> tuple[int, bool]:
    """Debit a finished (or interrupted) Premiere generation: (tokens, whether they were estimated).

    The upstream's reported usage when it sent one, else `token_balance.estimate_tokens` of what
    was sent and received; recorded against ``usage_id`` (the usage log row of the attempt).
    """
    tokens, estimated = token_balance.tokens_used(usage, prompt_text, output_text)
    await token_balance.debit(res.db, account_id, tokens, model_id=call.model_id, usage_id=usage_id)
    return tokens, estimated


def operator_key(upstream: PremiereUpstream) -> str | None:
    """The operator's key for ``upstream``: its environment variable, else the first line of its file."""
    if upstream.api_key_env:
        value = os.environ.get(upstream.api_key_env, "").strip()
        if value:
            return value
    if upstream.api_key_file:
        return _file_key(upstream.api_key_file)
    return None


def _file_key(path: Path) -> str | None:
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _FILE_KEYS.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    lines = path.read_text(encoding="utf-8").splitlines()
    key = lines[0].strip() if lines else ""
    _FILE_KEYS[path] = (mtime, key)
    return key or None


def _upstream(premiere: PremiereSettings, upstream_id: str) -> PremiereUpstream:
    for upstream in premiere.upstreams:
        if upstream.id == upstream_id:
            return upstream
    raise PremiereUnavailable(f"{LABEL}: upstream {upstream_id!r} is not configured.")  # settings check this at start


def network_policy(settings: Settings) -> NetworkPolicy | None:
    """The outbound policy for Premiere calls: the people's policy plus the upstreams the operator
    allowed onto private addresses. None when no upstream needs more than the people's policy."""
    private = [u for u in settings.premiere.upstreams if u.allow_private and u.base_url]
    if not private:
        return None
    ranges, hosts = _allowances(u.base_url for u in private if u.base_url)
    net = settings.network
    return NetworkPolicy(allow_private=(*net.allow_private, *ranges), allow_hosts=(*net.allow_hosts, *hosts))


def _allowances(urls: Iterable[str]) -> tuple[list[str], list[str]]:
    ranges: list[str] = []
    hosts: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            hosts.append(f"{host}:{parts.port}" if parts.port else host)
        else:
            ranges.append(f"{address}/{address.max_prefixlen}")
    return ranges, hosts
