"""`connect()`: one provider config resolved, validated, ready for an adapter.

Everything a person typed passes through `options` here, even if the service layer checked it
at save time already: a stored row must not be able to skip validation. Errors are
`OptionsError` (a ValueError) naming the field; none of them contains the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rolecall.net import InvalidURL, validate_base_url
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
    adapter = protocol_for(spec.protocol)
    key = _key(spec, api_key, adapter)
    fields = check_values(spec, values)
    try:
        endpoint = spec.endpoint(endpoint_type)
    except KeyError as exc:
        raise OptionsError("endpoint_type", str(exc.args[0])) from None
    if base_url and base_url.strip():
        try:
            url, custom = validate_base_url(base_url), True
        except InvalidURL as exc:
            raise OptionsError("base_url", f"Base URL: {exc}") from None
    elif not endpoint.url:
        raise OptionsError("base_url", f"Base URL is required for {spec.name}.")
    else:
        url, custom = adapter.base_url(spec, endpoint.url, fields), False
    return Connection(
        provider=spec, base_url=url, api_key=key, endpoint_type=endpoint.id, values=fields,
        headers=check_headers(headers or {}), body=check_body(body or {}), model=check_model_id(model),
        custom_base=custom,
    )


def _key(spec: Provider, api_key: Any, adapter: Any) -> Any:
    if spec.key_policy == "none" or api_key is None:
        text = ""
    else:
        text = check_key(reveal(api_key), spec)
    if not text:
        if spec.key_policy == "required":
            raise OptionsError("api_key", f"{spec.name} needs an {spec.key_label}.")
        return None
    adapter.check_key(spec, text)
    # Keep the caller's wrapper (a Secret masks itself everywhere) unless trimming changed it.
    return api_key if reveal(api_key) == text else text
