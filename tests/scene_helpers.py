"""Helpers for scene tests: an account with encryption, configs pointing at the fakes, scenes, streams."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from rolecall.crypto import Binding, e2e
from tests.factories import e2e_record
from tests.helpers import csrf_headers


@dataclass
class Owner:
    client: httpx.AsyncClient
    account_id: str
    udk: bytes


@dataclass
class Event:
    name: str
    data: Any


async def set_up_owner(client: httpx.AsyncClient) -> Owner:
    """The signed-in client with end-to-end encryption Active (needed to save any key)."""
    account_id = (await client.get("/api/me")).json()["id"]
    record, udk = e2e_record(account_id)
    response = await client.post("/api/encryption/setup", json=record, headers=await csrf_headers(client))
    assert response.status_code == 201, response.text
    return Owner(client, account_id, udk)


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(path, json=body, headers=await csrf_headers(client))


async def patch(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await client.patch(path, json=body, headers=await csrf_headers(client))


async def server_config(owner: Owner, provider_id: str, base_url: str, api_key: str, **extra: Any) -> str:
    body = {"provider_id": provider_id, "base_url": base_url, "label": f"{provider_id}-{uuid.uuid4().hex[:6]}",
            "privacy_mode": "srv", "api_key": api_key, **extra}
    response = await post(owner.client, "/api/provider-configs", body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def e2e_config(owner: Owner, provider_id: str, base_url: str, api_key: str) -> str:
    """An End-to-End config, sealed the way the browser seals it."""
    where = {"provider_id": provider_id, "base_url": base_url}
    resolved = (await post(owner.client, "/api/provider-configs/resolve", where)).json()
    config_id = str(uuid.uuid4())
    envelope = e2e.seal_bundle(owner.udk, {"api_key": api_key}, 1,
                               Binding(owner.account_id, config_id, provider_id, resolved["dest_origin"]))
    body = {**where, "id": config_id, "label": f"e2e-{config_id[:6]}", "privacy_mode": "e2e", "credential": envelope}
    response = await post(owner.client, "/api/provider-configs", body)
    assert response.status_code == 201, response.text
    return config_id


async def character(client: httpx.AsyncClient, name: str = "Mira", **extra: Any) -> dict[str, Any]:
    body = {"name": name, "persona": "A lighthouse keeper who speaks in short, salty sentences.",
            "first_message": "Storm's coming. You'd best come inside.", **extra}
    response = await post(client, "/api/characters", body)
    assert response.status_code == 201, response.text
    return response.json()


async def scene_with(client: httpx.AsyncClient, section: str | None = None, model_id: str = "gpt-4o-mini",
                     **character_fields: Any) -> dict[str, Any]:
    """A scene with a fresh character, its model set to (section, model_id) when a section is given."""
    cast = await character(client, **character_fields)
    created = await post(client, "/api/scenes", {"character_ids": [cast["id"]]})
    assert created.status_code == 201, created.text
    scene = created.json()
    if section is not None:
        chosen = await patch(client, f"/api/scenes/{scene['id']}", {"model": {"section": section, "model_id": model_id}})
        assert chosen.status_code == 200, chosen.text
        scene = chosen.json()
    return scene


def parse_sse(text: str) -> list[Event]:
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        name = next((line[7:] for line in lines if line.startswith("event: ")), "message")
        data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        events.append(Event(name, json.loads(data)))
    return events


async def stream(client: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None) -> list[Event]:
    """POST a generation route and read the whole event stream."""
    response = await post(client, path, body or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


def reply_text(events: list[Event]) -> str:
    return "".join(e.data["t"] for e in events if e.name == "delta")


def only(events: list[Event], name: str) -> Any:
    found = [e.data for e in events if e.name == name]
    assert len(found) == 1, [e.name for e in events]
    return found[0]
