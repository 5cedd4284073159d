"""A person with a three-slot chain on the fakes, and a turn run through the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from rolecall.config import LimitSettings, NetworkSettings, PremiereModel, PremiereSettings, PremiereUpstream
from rolecall.services import characters, connections, gateway, presets, scenes, usage
from rolecall.services.presets import SlotInput
from rolecall.services.resources import Resources
from tests.factories import add_provider_config
from tests.fakes.server import VALID_KEY
from tests.services.conftest import add_account

PRIMARY_MODEL = "gpt-4o-mini"
BACKUP_MODEL = "llama-3.1-8b-instant"
HOUSE_MODEL = "house-llama"


@pytest.fixture(autouse=True)
def house_key(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The operator's key for the Premiere upstream (import this fixture where Premiere answers)."""
    monkeypatch.setenv("HOUSE_KEY", VALID_KEY)


def chain_settings(make_settings, fake_openai, **overrides: Any):  # type: ignore[no-untyped-def]
    """Loopback allowed; a Premiere model served by the OpenAI fake with the operator's key from HOUSE_KEY."""
    premiere = PremiereSettings(
        upstreams=[PremiereUpstream(id="house", provider="custom_openai", base_url=fake_openai.base_url,
                                    api_key_env="HOUSE_KEY", allow_private=True)],
        models=[PremiereModel(id=HOUSE_MODEL, upstream="house", upstream_model="house/llama-3.1-70b",
                              context_window=131072, max_output=4096, input_price=1.0, output_price=2.0)],
        starting_grant=10_000, refill_every="never")
    values: dict[str, Any] = {"network": NetworkSettings(allow_private=["127.0.0.0/8"], read_timeout=5.0),
                              "premiere": premiere, "limits": LimitSettings()}
    values.update(overrides)
    return make_settings(**values)


@dataclass
class Person:
    account_id: str
    primary: str  # config ids
    backup: str
    preset_id: str
    scene_id: str


async def person(res: Resources, base_url: str, *, primary_mode: str = "srv", udk: bytes | None = None,
                 primary_provider: str = "openai", primary_origin: str | None = None,
                 premiere_slot: bool = True, persona: str = "A lighthouse keeper.", name: str = "alice",
                 **preset: Any) -> Person:
    """Slots: primary (openai on the fake, or the given provider), backup (openai on the fake), Premiere."""
    account_id = await add_account(res, name)
    origin = base_url.removesuffix("/v1")
    primary = await add_provider_config(res.db, account_id, mode=primary_mode, ring=res.keyring, udk=udk,
                                        api_key=VALID_KEY, provider_id=primary_provider,
                                        origin=primary_origin or origin, label="Primary")
    backup = await add_provider_config(res.db, account_id, mode="srv", ring=res.keyring, api_key=VALID_KEY,
                                       origin=origin, label="Backup")
    slots = [SlotInput(primary.id, PRIMARY_MODEL if primary_provider == "openai" else "claude-sonnet-4-5"),
             SlotInput(backup.id, BACKUP_MODEL)]
    if premiere_slot:
        slots.append(SlotInput("premiere", HOUSE_MODEL))
    made = await presets.create(res.db, res.settings, account_id, name="Guide", slots=slots, **preset)
    cast = await characters.create(res.db, account_id, {"name": "Mira", "persona": persona})
    scene = await scenes.create_scene(res.db, account_id, "The lighthouse", [cast.id])
    return Person(account_id, primary.id, backup.id, made.id, scene.id)


async def turn(res: Resources, who: Person, text: str = "Evening, Mira.", *, key: Any = None,
               background: bool = False, action: str = "send", message_id: str | None = None) -> list[gateway.StreamEvent]:
    prepared = await gateway.prepare(res, who.account_id, who.scene_id, action,  # type: ignore[arg-type]
                                     text=text if action == "send" else None, message_id=message_id)
    return [e async for e in gateway.run(res, prepared, key or connections.ServerKey(), background=background)]


def names(events: list[gateway.StreamEvent]) -> list[str]:
    return [e.name for e in events]


def squeezed(names: list[str]) -> list[str]:
    """Event names with each run of deltas as one: how many there are depends on how the
    upstream's pieces arrived (those of one read go on as one)."""
    return [name for i, name in enumerate(names) if name != "delta" or i == 0 or names[i - 1] != "delta"]


def text_of(events: list[gateway.StreamEvent]) -> str:
    return "".join(e.data for e in events if e.name == "delta")


def one(events: list[gateway.StreamEvent], name: str) -> Any:
    found = [e.data for e in events if e.name == name]
    assert len(found) == 1, names(events)
    return found[0]


def skips(events: list[gateway.StreamEvent]) -> list[tuple[int, str]]:
    return [(e.data["position"], e.data["kind"]) for e in events if e.name == "skipped"]


async def attempts(res: Resources, who: Person) -> list[usage.UsageRow]:
    """The usage rows of the person, oldest first."""
    assert res.usage is not None
    await res.usage.flush()
    page = await usage.page(res.db, who.account_id, usage.Filters(), limit=500)
    return sorted(page.rows, key=lambda r: (r.at, r.slot_position or 0))


def outcomes(rows: list[usage.UsageRow]) -> list[tuple[int | None, str, str]]:
    return [(r.slot_position, r.outcome, r.error_kind) for r in rows]


def chat_models(fake: Any) -> list[str]:
    """The model each chat call to ``fake`` asked for, in order."""
    return [r.json()["model"] for r in fake.requests if r.path.endswith(("/chat/completions", "/messages"))]
