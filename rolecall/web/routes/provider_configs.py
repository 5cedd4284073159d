"""BYOK provider configs over JSON: the provider catalog for the form, and config CRUD + Test.

Keys in requests: `api_key` only for Server-Accessible saves and for tests (an E2E key comes here
for that one call); E2E saves carry `credential`, an envelope sealed in the browser. Responses
never contain a key: at most `key_hint` (last 4 characters).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from rolecall.providers import all_providers, form_fields
from rolecall.services import provider_configs
from rolecall.services.config_input import ConfigInput
from rolecall.services.connections import HandedKey
from rolecall.services.key_checks import KeyCheck
from rolecall.services.provider_configs import KeyInput
from rolecall.services.stored_config import ConfigView
from rolecall.web.deps import CurrentAccount, ResourcesDep

api = APIRouter(prefix="/api", tags=["provider configs"])
PROVIDER_NAMES = {p.id: p.name for p in all_providers()}

CATEGORY_LABELS = {
    "major": "Major providers", "openai_compatible": "OpenAI-compatible", "specialized": "Specialized",
    "enterprise": "Enterprise", "regional": "Regional", "free": "Free", "custom": "Custom",
}


class FieldOut(BaseModel):
    name: str
    label: str
    kind: str
    level: str
    help: str
    placeholder: str
    default: str
    choices: list[list[str]]
    secret: bool
    max_length: int


class EndpointOut(BaseModel):
    id: str
    label: str
    url: str = Field(description="Base URL; {placeholders} are filled from the config's values")


class ProviderOut(BaseModel):
    id: str
    name: str
    category: str
    category_label: str
    key_policy: str
    key_prefixes: list[str]
    key_url: str | None
    key_label: str
    default_base_url: str
    endpoints: list[EndpointOut]
    fields: list[FieldOut]


class ConfigFields(BaseModel):
    base_url: str | None = Field(None, max_length=2048)
    endpoint_type: str | None = Field(None, max_length=64)
    values: dict[str, str] = Field(default_factory=dict, max_length=20)
    body: str = Field("", max_length=16384)
    model: str | None = Field(None, max_length=256)


class KeyCheckIn(ConfigFields):
    provider_id: str = Field(max_length=32)
    privacy_mode: str | None = Field(None, max_length=8)
    label: str | None = Field(None, max_length=200)
    headers: str = Field("", max_length=8192)
    api_key: str | None = Field(None, max_length=32768)


class ResolveIn(ConfigFields):
    provider_id: str = Field(max_length=32)


class ConfigIn(KeyCheckIn):
    id: str | None = Field(None, max_length=36)
    label: str = Field(max_length=200)
    privacy_mode: str = Field(max_length=8)
    credential: str | None = Field(None, max_length=40000)
    header_names: list[str] = Field(default_factory=list, max_length=32)
    test_id: str | None = Field(None, max_length=64)


class ConfigPatch(BaseModel):
    label: str | None = Field(None, max_length=200)
    privacy_mode: str | None = Field(None, max_length=8)
    provider_id: str | None = Field(None, max_length=32)
    base_url: str | None = Field(None, max_length=2048)
    endpoint_type: str | None = Field(None, max_length=64)
    values: dict[str, str] | None = Field(None, max_length=20)
    headers: str | None = Field(None, max_length=8192)
    header_names: list[str] | None = Field(None, max_length=32)
    body: str | None = Field(None, max_length=16384)
    model: str | None = Field(None, max_length=256)
    api_key: str | None = Field(None, max_length=32768)
    credential: str | None = Field(None, max_length=40000)


class SecretIn(BaseModel):
    api_key: str | None = Field(None, max_length=32768)
    headers: str = Field("", max_length=8192)


class KeyCheckOut(BaseModel):
    status: str = Field(description="valid, invalid, or unchecked (couldn't check: the status is unchanged)")
    headline: str
    explanation: str
    kind: str | None
    http_status: int | None
    retry_after: float | None
    models_count: int
    base_url: str
    dest_origin: str
    test_id: str | None = None
    note: str = Field("", description="Set when the stored model list is shorter than the provider's")

    @classmethod
    def of(cls, outcome: KeyCheck) -> KeyCheckOut:
        return cls(status=outcome.status, headline=outcome.headline, explanation=outcome.explanation,
                   kind=outcome.kind, http_status=outcome.http_status, retry_after=outcome.retry_after,
                   models_count=len(outcome.models), base_url=outcome.base_url, dest_origin=outcome.dest_origin,
                   test_id=outcome.test_id, note=outcome.note)


class ConfigOut(BaseModel):
    id: str
    label: str
    provider_id: str
    provider_name: str
    privacy_mode: str
    base_url: str
    custom_base: bool
    dest_origin: str
    endpoint_type: str | None
    values: dict[str, str]
    header_names: list[str]
    body: str
    model: str | None
    status: str
    status_detail: str
    last_tested_at: str | None
    key_hint: str | None
    credential: str | None = Field(description="E2E only: the envelope, for the browser to open")
    models_count: int

    @classmethod
    def of(cls, view: ConfigView) -> ConfigOut:
        options = view.options
        return cls(
            id=view.id, label=view.label, provider_id=view.provider_id,
            provider_name=PROVIDER_NAMES.get(view.provider_id, view.provider_id),
            privacy_mode=view.privacy_mode, base_url=view.base_url, custom_base=options.custom_base,
            dest_origin=view.dest_origin, endpoint_type=options.endpoint_type, values=dict(options.values),
            header_names=list(options.header_names), body=options.body_text(), model=options.model,
            status=view.status, status_detail=view.status_detail,
            last_tested_at=view.last_tested_at.isoformat() if view.last_tested_at else None,
            key_hint=view.key_hint, credential=view.credential_ct if view.privacy_mode == "e2e" else None,
            models_count=view.models_count,
        )


def _input(provider_id: str, body: ConfigFields, headers: str = "") -> ConfigInput:
    return ConfigInput(provider_id, base_url=body.base_url, endpoint_type=body.endpoint_type, values=body.values,
                       headers=headers, body=body.body, model=body.model)


@api.get("/providers", response_model=list[ProviderOut], summary="Every provider, with the fields its form shows")
async def providers() -> list[ProviderOut]:
    return [ProviderOut(
        id=p.id, name=p.name, category=p.category, category_label=CATEGORY_LABELS[p.category],
        key_policy=p.key_policy, key_prefixes=list(p.key_prefixes), key_url=p.key_url, key_label=p.key_label,
        default_base_url=p.default_endpoint.url,
        endpoints=[EndpointOut(id=e.id, label=e.label, url=e.url) for e in p.endpoints],
        fields=[FieldOut(name=f.name, label=f.label, kind=f.kind, level=f.level, help=f.help, placeholder=f.placeholder,
                         default=f.default, choices=[list(c) for c in f.choices], secret=f.secret,
                         max_length=f.max_length) for f in form_fields(p)],
    ) for p in all_providers()]


@api.get("/provider-configs", response_model=list[ConfigOut], summary="Your provider configs")
async def list_configs(res: ResourcesDep, account: CurrentAccount) -> list[ConfigOut]:
    return [ConfigOut.of(view) for view in await provider_configs.list_configs(res.db, account.id)]


@api.post("/provider-configs/resolve", summary="Where a config would send requests (its base URL and origin)")
async def resolve(res: ResourcesDep, account: CurrentAccount, body: ResolveIn) -> dict[str, str]:
    base_url, origin = await provider_configs.resolve_origin(res, _input(body.provider_id, body))
    return {"base_url": base_url, "dest_origin": origin}


@api.post("/provider-configs/test", response_model=KeyCheckOut, summary="Test a key before saving")
async def check_unsaved(res: ResourcesDep, account: CurrentAccount, body: KeyCheckIn) -> KeyCheckOut:
    data = _input(body.provider_id, body, body.headers)
    return KeyCheckOut.of(await provider_configs.check_unsaved(res, account.id, data, body.api_key))


@api.post("/provider-configs", status_code=201, response_model=ConfigOut, summary="Save a provider config")
async def create(res: ResourcesDep, account: CurrentAccount, body: ConfigIn) -> ConfigOut:
    creds = KeyInput(api_key=body.api_key, headers=body.headers, credential=body.credential,
                     header_names=tuple(body.header_names))
    view = await provider_configs.create(res, account.id, body.label, body.privacy_mode,
                                         _input(body.provider_id, body), creds, config_id=body.id,
                                         test_id=body.test_id)
    return ConfigOut.of(view)


@api.patch("/provider-configs/{config_id}", response_model=ConfigOut, summary="Edit a config (a new key makes it Untested)")
async def update(res: ResourcesDep, account: CurrentAccount, config_id: str, body: ConfigPatch) -> ConfigOut:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"api_key", "credential", "header_names"})
    creds = KeyInput(api_key=body.api_key, headers=body.headers or "", credential=body.credential,
                     header_names=tuple(body.header_names or ()))
    return ConfigOut.of(await provider_configs.update(res, account.id, config_id, changes, creds))


@api.post("/provider-configs/{config_id}/test", response_model=KeyCheckOut, summary="Test Key on a saved config")
async def check_saved(res: ResourcesDep, account: CurrentAccount, config_id: str, body: SecretIn) -> KeyCheckOut:
    # An End-to-End key arrives opened by the browser for this call; a Server-Accessible config ignores it.
    key = HandedKey.from_form(body.api_key, body.headers)
    return KeyCheckOut.of(await provider_configs.check_saved(res, account.id, config_id, key))


@api.delete("/provider-configs/{config_id}", status_code=204, summary="Delete a config and its stored key")
async def delete(res: ResourcesDep, account: CurrentAccount, config_id: str) -> Response:
    await provider_configs.delete(res.db, account.id, config_id)
    return Response(status_code=204)
