"""Parsing and validation of a config's advanced options: pure functions, no I/O.

The service layer calls these at save time (through `connect()` / `resolve_target`) and stores
only what passed; a saved config is opened with `trusted_connection()` without checking again.
Every error is an `OptionsError` whose message names the field and the line, and never echoes a
header *value* (it may be a proxy secret).

* Custom headers / custom body params: `key: value` lines, or one JSON object
  (docs/user-guide.md, "Step 3e — Optional Fields").
  Header names must be HTTP tokens; values must be printable ASCII without CR/LF (h11 would
  refuse them later with an error that contains the value). Credential, hop-by-hop and framing
  headers are reserved, as are the body fields RoleCall owns (model, messages, stream, ...).
  Body values in line form are read as JSON when they parse (`min_p: 0.1` -> 0.1), else text.
* Provider fields (Azure resource, Vertex region, Org ID): required/pattern/length/choices from
  the registry's `Field` records; patterns keep URL parts from redirecting a key elsewhere.
* API keys: surrounding whitespace trimmed; inner whitespace or control characters refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rolecall.providers import jsontext
from rolecall.providers.auth import AUTH_HEADER_NAMES
from rolecall.providers.types import Field, Provider

MAX_HEADERS = 32
MAX_HEADER_BYTES = 8 * 1024
MAX_BODY_PARAMS = 50
MAX_BODY_BYTES = 16 * 1024
MAX_BODY_DEPTH = 5
MAX_KEY_LENGTH = 4096
MAX_SERVICE_ACCOUNT_LENGTH = 16 * 1024
MAX_MODEL_ID = 256

RESERVED_HEADERS = AUTH_HEADER_NAMES | frozenset({
    "host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "expect",
    "keep-alive", "proxy-connection", "openai-organization",
})
# Headers every adapter sets itself for the wire format it parses: a custom value would be replaced
# on the wire, so it is refused instead of silently ignored. `anthropic-version` too: the adapter
# reads the 2023-06-01 format (betas go in `anthropic-beta`, which passes through).
WIRE_FORMAT_HEADERS = frozenset({"content-type", "accept", "anthropic-version"})


def reserved_header_advice(lower_name: str) -> str:
    """What to do instead of setting a reserved header (the same words as provider_fields.js)."""
    if lower_name == "host":
        return "requests go to the Base URL's host; to reach another server, change the Base URL instead"
    if lower_name == "openai-organization":
        return "use the Organization ID field under Advanced instead"
    if lower_name in AUTH_HEADER_NAMES:
        return "put the key in the API Key field instead"
    return "the HTTP client sets it for every request"


# Body fields the adapters set themselves, across protocols: a custom param may not replace them.
RESERVED_BODY = frozenset({"model", "messages", "stream", "stream_options", "prompt", "contents", "system", "input"})

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PRINTABLE = re.compile(r"[\x20-\x7e\t]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class OptionsError(ValueError):
    """An advanced option is malformed. `field` names the input, `line` the 1-based line."""

    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        self.field = field
        self.line = line
        super().__init__(message)


# --- shared line / JSON reader ---------------------------------------------------------------

def _entries(text: str, field: str, what: str) -> list[tuple[int | None, str, Any]]:
    """(line number or None for JSON, key, raw value) from `key: value` lines or a JSON object."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("{"):
        try:
            obj = jsontext.loads(stripped)
        except jsontext.TooDeep as exc:
            raise OptionsError(field, f"{what}: the JSON object is {exc}.") from None
        except json.JSONDecodeError as exc:
            raise OptionsError(field, f"{what}: the JSON object is not valid JSON ({exc.msg}, line {exc.lineno}).") from None
        if not isinstance(obj, dict):
            raise OptionsError(field, f"{what}: expected a JSON object.")
        return [(None, str(k), v) for k, v in obj.items()]
    entries: list[tuple[int | None, str, Any]] = []
    for number, raw in enumerate(stripped.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise OptionsError(field, f"{what}, line {number}: expected `key: value`.", number)
        entries.append((number, key.strip(), value.strip()))
    return entries


def _where(what: str, line: int | None, key: str) -> str:
    return f"{what}, line {line} ({key})" if line else f"{what}, {key!r}"


# --- headers -----------------------------------------------------------------------------------

def parse_headers(text: str) -> dict[str, str]:
    """Custom headers from `key: value` lines or a JSON object; raises OptionsError."""
    entries = _entries(text, "headers", "Custom Headers")
    return _check_header_entries(entries)


def check_fixed_headers(provider: Provider, names: Iterable[str]) -> None:
    """Refuse custom headers this provider's requests always set (OpenRouter's X-Title, a field's
    header): ours win on the wire, so a custom value would be silently replaced."""
    fixed = {h.lower() for h in provider.headers} | {f.header.lower() for f in provider.fields if f.header}
    for name in names:
        if name.lower() in fixed:
            raise OptionsError("headers", f"Custom Headers: {name} is set by RoleCall for {provider.name}, so a "
                               "custom value would be replaced. Remove this header.")


def check_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Validate an already-parsed header mapping (e.g. read back from storage)."""
    return _check_header_entries([(None, str(k), v) for k, v in headers.items()])


def _check_header_entries(entries: list[tuple[int | None, str, Any]]) -> dict[str, str]:
    if len(entries) > MAX_HEADERS:
        raise OptionsError("headers", f"Custom Headers: at most {MAX_HEADERS} headers.")
    result: dict[str, str] = {}
    seen: set[str] = set()
    total = 0
    for line, name, value in entries:
        where = _where("Custom Headers", line, name)
        if not _TOKEN.fullmatch(name):
            raise OptionsError("headers", f"{where}: not a valid header name.", line)
        lower = name.lower()
        if lower in RESERVED_HEADERS:
            raise OptionsError("headers", f"{where}: {name} is set by RoleCall and can't be overridden "
                               f"({reserved_header_advice(lower)}).", line)
        if lower in WIRE_FORMAT_HEADERS:
            raise OptionsError("headers", f"{where}: {name} is set by RoleCall to match the format it sends and "
                               "reads, so a custom value would be replaced. Remove this header.", line)
        if lower in seen:
            raise OptionsError("headers", f"{where}: this header appears twice.", line)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise OptionsError("headers", f"{where}: the value must be text.", line)
        text = str(value).strip()
        if not _PRINTABLE.fullmatch(text):
            raise OptionsError("headers", f"{where}: the value contains a line break, control or "
                               "non-ASCII character.", line)
        total += len(name) + len(text)
        if total > MAX_HEADER_BYTES:
            raise OptionsError("headers", f"Custom Headers: more than {MAX_HEADER_BYTES} bytes in all.", line)
        seen.add(lower)
        result[name] = text
    return result


# --- body params -------------------------------------------------------------------------------

def parse_body_params(text: str) -> dict[str, Any]:
    """Custom body params from `key: value` lines or a JSON object; raises OptionsError."""
    entries = [(n, k, _line_value(v) if n else v) for n, k, v in _entries(text, "body", "Custom Body Params")]
    return _check_body_entries(entries)


def check_body(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an already-parsed body-params mapping."""
    return _check_body_entries([(None, str(k), v) for k, v in params.items()])


def _line_value(value: str) -> Any:
    try:
        return jsontext.loads(value)
    except jsontext.TooDeep:
        raise OptionsError("body", f"Custom Body Params: a value is nested more than {MAX_BODY_DEPTH} levels deep.") from None
    except ValueError:
        return value


def _check_body_entries(entries: list[tuple[int | None, str, Any]]) -> dict[str, Any]:
    if len(entries) > MAX_BODY_PARAMS:
        raise OptionsError("body", f"Custom Body Params: at most {MAX_BODY_PARAMS} params.")
    result: dict[str, Any] = {}
    for line, key, value in entries:
        where = _where("Custom Body Params", line, key)
        if not key or len(key) > 64 or _CONTROL.search(key):
            raise OptionsError("body", f"{where}: not a valid parameter name.", line)
        if key.lower() in RESERVED_BODY:
            raise OptionsError("body", f"{where}: {key} is set by RoleCall and can't be overridden.", line)
        if key in result:
            raise OptionsError("body", f"{where}: this parameter appears twice.", line)
        if _depth(value) > MAX_BODY_DEPTH:
            raise OptionsError("body", f"{where}: nested more than {MAX_BODY_DEPTH} levels deep.", line)
        if not _is_json(value):
            raise OptionsError("body", f"{where}: NaN and Infinity are not JSON numbers.", line)
        result[key] = value
    if len(json.dumps(result)) > MAX_BODY_BYTES:
        raise OptionsError("body", f"Custom Body Params: more than {MAX_BODY_BYTES} bytes in all.")
    return result


def _is_json(value: Any) -> bool:
    """Whether ``value`` can be written as JSON: Python's reader takes NaN and Infinity, JSON has no such numbers."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


# --- other fields ------------------------------------------------------------------------------

def check_key(key: str, provider: Provider) -> str:
    """The key with surrounding whitespace trimmed; raises on anything a header cannot carry."""
    text = key.strip()
    limit = MAX_SERVICE_ACCOUNT_LENGTH if provider.key_kind == "textarea" else MAX_KEY_LENGTH
    if len(text) > limit:
        raise OptionsError("api_key", f"The {provider.key_label} is longer than {limit} characters.")
    if provider.key_kind == "textarea":
        return text  # a JSON document: newlines are fine, it never goes into a header
    if not text.isascii() or not _TOKEN_CHARS.fullmatch(text):
        raise OptionsError("api_key", f"The {provider.key_label} contains spaces, line breaks or characters "
                           "a key can't have. Double-check the copy-paste.")
    return text


_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


def check_model_id(model: str | None) -> str | None:
    """A pinned model ID: trimmed, at most 256 printable characters; "" means none."""
    if model is None or not model.strip():
        return None
    text = model.strip()
    if len(text) > MAX_MODEL_ID or _CONTROL.search(text):
        raise OptionsError("model", f"Model ID must be at most {MAX_MODEL_ID} characters, without line breaks.")
    return text


def check_values(provider: Provider, values: Mapping[str, Any] | None) -> dict[str, str]:
    """Provider-specific fields (Azure resource/deployment/version, Vertex region, Org ID)."""
    values = dict(values or {})
    known = {f.name: f for f in provider.fields}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise OptionsError(unknown[0], f"{provider.name} has no field {unknown[0]!r}.")
    result: dict[str, str] = {}
    for name, spec in known.items():
        text = str(values.get(name) or spec.default or "").strip()
        if text:
            result[name] = _check_field(spec, text)
        elif spec.level == "required":
            raise OptionsError(name, f"{spec.label} is required for {provider.name}.")
    return result


def _check_field(spec: Field, text: str) -> str:
    if len(text) > spec.max_length or _CONTROL.search(text):
        raise OptionsError(spec.name, f"{spec.label} must be at most {spec.max_length} characters, without line breaks.")
    if spec.choices and text not in {value for value, _ in spec.choices}:
        allowed = ", ".join(value for value, _ in spec.choices)
        raise OptionsError(spec.name, f"{spec.label} must be one of: {allowed}.")
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        hint = f" (for example {spec.placeholder})" if spec.placeholder else ""
        raise OptionsError(spec.name, f"{spec.label} has characters it can't contain{hint}.")
    return text


def merge_body(base: dict[str, Any], *extras: Mapping[str, Any]) -> dict[str, Any]:
    """`base` (what the adapter built) updated with custom params, never on reserved names.

    Custom params may override samplers the adapter set (temperature, max_tokens): that is what
    they are for. They may not touch what makes the request ours (RESERVED_BODY).
    """
    for extra in extras:
        for key, value in extra.items():
            if key.lower() not in RESERVED_BODY:
                base[key] = value
    return base


def merge_headers(custom: Mapping[str, str], *ours: Mapping[str, str]) -> dict[str, str]:
    """Custom headers first, then ours on top, so ours always win (second guard after check)."""
    merged = {k: v for k, v in custom.items() if k.lower() not in RESERVED_HEADERS | WIRE_FORMAT_HEADERS}
    lowered = {k.lower(): k for k in merged}
    for headers in ours:
        for key, value in headers.items():
            old = lowered.pop(key.lower(), None)
            if old is not None:
                merged.pop(old)
            merged[key] = value
    return merged


# --- the form ----------------------------------------------------------------------------------

# The advanced fields every provider offers (docs/user-guide.md, "Step 3e — Optional Fields";
# the help texts are the guide's).
_BASE_URL = Field(
    "base_url", "Custom Base URL", kind="url", level="advanced", max_length=2048,
    help="You're routing through a proxy in front of the provider. Paste the proxy's base URL here.",
)
_HEADERS = Field(
    "headers", "Custom Headers", kind="lines", level="advanced", max_length=MAX_HEADER_BYTES,
    placeholder="x-proxy-secret: ...",
    help="A reverse proxy requires an extra HTTP header on every request (e.g. x-proxy-secret: ...). "
    "Enter as key: value, one per line, or paste a JSON object.",
)
_BODY = Field(
    "body", "Custom Body Params", kind="lines", level="advanced", max_length=MAX_BODY_BYTES,
    placeholder="min_p: 0.1",
    help="Sampler values your preset needs that aren't in the standard UI (e.g. min_p: 0.1, top_k: 50). "
    "Same format: key: value per line, or JSON.",
)
_MODEL = Field(
    "model", "Model ID", level="advanced", max_length=MAX_MODEL_ID,
    help="Pin this config to a specific model. Leave it blank if you want to pick per-scene.",
)


def form_fields(provider: Provider) -> tuple[Field, ...]:
    """Every input of the Add Provider form for `provider`, in display order.

    The key field, the provider's required/optional fields, then the Advanced ones in the
    guide's order (Base URL, Organization ID, Headers, Body Params, Endpoint Type, Model ID).
    """
    fields: list[Field] = []
    if provider.key_policy != "none":
        hint = " or ".join(f"{p}..." for p in provider.key_prefixes[:2])
        fields.append(Field(
            "api_key", provider.key_label, kind=provider.key_kind, secret=True, placeholder=hint,
            level="required" if provider.key_policy == "required" else "optional",
            max_length=MAX_SERVICE_ACCOUNT_LENGTH if provider.key_kind == "textarea" else MAX_KEY_LENGTH,
            help=f"Get one at {provider.key_url}." if provider.key_url else "",
        ))
    if provider.discover_base:
        fields.append(Field(
            "base_url", "Base URL", kind="url", max_length=2048, placeholder="https://my-llm.example.com/v1",
            help="Any OpenAI-compatible endpoint. RoleCall tries it as typed, then with /v1 and /api/v1.",
        ))
    fields += [f for f in provider.fields if f.level != "advanced"]
    if not provider.discover_base:
        fields.append(_BASE_URL)
    fields += [f for f in provider.fields if f.level == "advanced"]
    fields += [_HEADERS, _BODY]
    if len(provider.endpoints) > 1:
        fields.append(Field(
            "endpoint_type", "Endpoint Type", kind="select", level="advanced",
            choices=tuple((e.id, e.label) for e in provider.endpoints), default=provider.endpoints[0].id,
        ))
    fields.append(_MODEL)
    return tuple(fields)
