"""What a person typed into the Add Provider form, validated into the parts a config stores.

Every rule lives in `providers.options` (pure functions); this module only turns their
`OptionsError` into the service's `Invalid` with the field the form should point at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from rolecall.providers import (
    OptionsError,
    Provider,
    Target,
    check_model_id,
    get,
    parse_body_params,
    parse_headers,
    protocol_for,
    resolve_target,
)
from rolecall.providers.options import check_fixed_headers, check_key
from rolecall.services.errors import Invalid
from rolecall.services.fields import required_text

MAX_LABEL = 80
MODES = ("e2e", "srv")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class ConfigInput:
    provider_id: str
    base_url: str | None = None
    endpoint_type: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    headers: str = ""
    body: str = ""
    model: str | None = None


@dataclass(frozen=True)
class Resolved:
    provider: Provider
    target: Target
    headers: dict[str, str]
    body: dict[str, Any]
    model: str | None


def provider(provider_id: str) -> Provider:
    try:
        return get(provider_id)
    except KeyError:
        raise Invalid(f"Unknown provider “{provider_id}”. Pick one from the list.", field="provider_id") from None


def resolve(data: ConfigInput) -> Resolved:
    spec = provider(data.provider_id)
    with options_errors(spec):
        target = resolve_target(spec, base_url=data.base_url, endpoint_type=data.endpoint_type, values=data.values)
        headers = parse_headers(data.headers or "")
        check_fixed_headers(spec, headers)
        return Resolved(spec, target, headers, parse_body_params(data.body or ""), check_model_id(data.model))


class options_errors:  # noqa: N801 - used as a context manager, reads like a clause
    """Turn `OptionsError` into `Invalid`, pointing provider fields at `values.<name>`."""

    def __init__(self, spec: Provider) -> None:
        self.fields = {f.name for f in spec.fields}

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(exc, OptionsError):
            name = f"values.{exc.field}" if exc.field in self.fields else exc.field
            raise Invalid(str(exc), field=name) from None


def check_api_key(spec: Provider, api_key: str) -> None:
    """The key's shape for this provider (header-safe; Vertex: a service-account JSON)."""
    with options_errors(spec):
        check_key(api_key, spec)
        protocol_for(spec.protocol).check_key(spec, api_key.strip())


def check_label(label: str) -> str:
    return required_text(label, field="label", limit=MAX_LABEL,
                         empty="Give this config a label, e.g. “OpenAI personal”.",
                         too_long=f"Labels can be at most {MAX_LABEL} characters.")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise Invalid("Choose a privacy mode: end-to-end (e2e) or server-accessible (srv).", field="privacy_mode")
    return mode


def check_config_id(config_id: str | None) -> str:
    if not config_id or not UUID.match(config_id):
        raise Invalid("The config id must be a lowercase UUID made by the browser.", field="id")
    return config_id


def header_values(text: str, spec: Provider | None = None) -> dict[str, str]:
    """Custom headers from the form's text (`key: value` lines or JSON), validated (for `spec`:
    none of the headers its requests always set)."""
    try:
        headers = parse_headers(text or "")
        if spec is not None:
            check_fixed_headers(spec, headers)
    except OptionsError as exc:
        raise Invalid(str(exc), field="headers") from None
    return headers


def check_header_names(names: list[str], spec: Provider | None = None) -> list[str]:
    """E2E configs keep header values in the sealed bundle; only their names reach the server."""
    try:
        checked = parse_headers("\n".join(f"{name}: x" for name in names))
        if spec is not None:
            check_fixed_headers(spec, checked)
    except OptionsError as exc:
        raise Invalid(str(exc), field="headers") from None
    return sorted(checked)
