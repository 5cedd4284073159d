"""`connect()`: one provider config resolved, validated, ready for an adapter.

`connect()` is for untrusted input: everything a person typed passes through `options`.
`trusted_connection()` assembles a config that was validated when it was saved (the service
layer stores only the validated form), so opening a saved config repeats no check. Errors are
`OptionsError` (a ValueError) naming the field; none of them contains the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rolecall.net import InvalidURL, origin_of, validate_base_url
from rolecall.providers import registry
from rolecall.providers.options import (
    OptionsError,
    check_body,
    check_headers,
    check_key,
    check_model_id,
    check_values,
)
from rolecall.providers.protocols import protocol_for
from rolecall.providers.types import Connection, Provider, reveal


def connect(
    provider: Provider | str,
    *,
    api_key: Any = None,
    base_url: str | None = None,
    endpoint_type: str | None = None,
    values: Mapping[str, Any] | None = None,
    headers: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    model: str | None = None,
) -> Connection:
    """Resolve a provider config into a `Connection`.

    **Parameters:**
    * provider: a registry id or a `Provider` record.
    * api_key: `str` or an object with `.reveal()`; trimmed; refused if a header can't carry it.
    * base_url: the Custom Base URL (required for the Custom endpoint); validated by `net`.
    * endpoint_type: an endpoint id of the provider (NanoGPT `subscription`, Z.AI `coding`).
    * values: provider fields (Azure `resource_name`, Vertex `region`, OpenAI `organization`).
    * headers / body: already-parsed custom headers and body params (see `options.parse_*`).
    * model: the pinned Model ID, if any.
    """
    spec = provider if isinstance(provider, Provider) else registry.get(provider)
    key = checked_key(spec, api_key)
    target = resolve_target(spec, base_url=base_url, endpoint_type=endpoint_type, values=values)
    return Connection(
        provider=spec, base_url=target.base_url, api_key=key, endpoint_type=target.endpoint_type,
        values=target.values, headers=check_headers(headers or {}), body=check_body(body or {}),
        model=check_model_id(model), custom_base=target.custom_base,
    )


@dataclass(frozen=True)
class Target:
    """Where a config sends its requests, resolved without its key (the vault binds the origin)."""

    base_url: str
    endpoint_type: str
    values: Mapping[str, str]
    custom_base: bool

    @property
    def origin(self) -> str:
        return origin_of(self.base_url)


def resolve_target(
    provider: Provider | str, *, base_url: str | None = None, endpoint_type: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> Target:
    """The base URL a config will use: its Custom Base URL, or the registry's endpoint filled in."""
    spec = provider if isinstance(provider, Provider) else registry.get(provider)
    fields = check_values(spec, values)
    try:
        endpoint = spec.endpoint(endpoint_type)
    except KeyError as exc:
        raise OptionsError("endpoint_type", str(exc.args[0])) from None
    if base_url and base_url.strip():
        try:
            return Target(validate_base_url(base_url), endpoint.id, fields, True)
        except InvalidURL as exc:
            raise OptionsError("base_url", f"Base URL: {exc}") from None
    if not endpoint.url:
        raise OptionsError("base_url", f"Base URL is required for {spec.name}.")
    url = protocol_for(spec.protocol).base_url(spec, endpoint.url, fields)
    return Target(url, endpoint.id, fields, False)


def trusted_connection(
    provider: Provider,
    *,
    base_url: str,
    custom_base: bool,
    endpoint_type: str,
    values: Mapping[str, str],
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    model: str | None,
    api_key: Any = None,
) -> Connection:
    """A `Connection` from parts that passed `connect()`'s rules before (a saved config).

    Nothing is checked again: the caller vouches that `base_url` came from `resolve_target`,
    `values`/`headers`/`body`/`model` from the `options` checks and `api_key` from
    `checked_key` (or the same checks at save time). Untrusted input goes through `connect()`.
    """
    key = None if provider.key_policy == "none" else api_key
    return Connection(
        provider=provider, base_url=base_url, api_key=key, endpoint_type=endpoint_type, values=values,
        headers=headers, body=body, model=model, custom_base=custom_base,
    )


def checked_key(spec: Provider, api_key: Any) -> Any:
    """The key trimmed and checked for this provider (None when it has none), keeping a `Secret`."""
    adapter = protocol_for(spec.protocol)
    text = "" if spec.key_policy == "none" or api_key is None else check_key(reveal(api_key), spec)
    if not text:
        if spec.key_policy == "required":
            raise OptionsError("api_key", f"{spec.name} needs an {spec.key_label}.")
        return None
    adapter.check_key(spec, text)
    # Keep the caller's wrapper (a Secret masks itself everywhere) unless trimming changed it.
    return api_key if reveal(api_key) == text else text
