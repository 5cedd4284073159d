"""An image with a message: only models that take images get the turn, and it reaches them as image parts."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from rolecall.services import gateway, messages, presets
from rolecall.services.errors import Invalid
from rolecall.services.presets import SlotInput
from rolecall.storage.scene_tables import MessageImage
from tests.fakes.fixtures import _anthropic_server, _openai_server, fake_anthropic, fake_openai  # noqa: F401
from tests.services.chain_helpers import (  # noqa: F401
    BACKUP_MODEL,
    PRIMARY_MODEL,
    attempts,
    chain_settings,
    house_key,
    one,
    outcomes,
    person,
    skips,
    text_of,
    turn,
)

PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e5273fbe0000000049454e44ae426082")).decode()
IMAGE = messages.check_image("image/png", PIXEL)


@pytest.fixture
def settings(make_settings, fake_openai):  # type: ignore[no-untyped-def]
    return chain_settings(make_settings, fake_openai)


async def image_turn(res, who, text: str = "What is this?"):  # type: ignore[no-untyped-def]
    prepared = await gateway.prepare(res, who.account_id, who.scene_id, "send", text=text, image=IMAGE)
    from rolecall.services import connections

    return [e async for e in gateway.run(res, prepared, connections.ServerKey())]


async def test_a_model_without_vision_is_skipped_for_an_image_turn(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url, premiere_slot=False)
    await presets.update_preset(res.db, res.settings, who.account_id, who.preset_id, {"slots": [
        SlotInput(who.backup, BACKUP_MODEL), SlotInput(who.primary, PRIMARY_MODEL)]})  # text-only first
    events = await image_turn(res, who)
    assert skips(events) == [(0, "no_vision")] and one(events, "done").model.model_id == PRIMARY_MODEL
    sent = fake_openai.last.json()["messages"][-1]["content"]
    assert sent == [{"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}]
    assert outcomes(await attempts(res, who))[0] == (0, "skipped", "no_vision")
    async with res.db() as s:
        stored = (await s.execute(select(MessageImage.media_type, MessageImage.data))).all()
    assert stored == [("image/png", PIXEL)]
    # A later text turn: the text-only model answers, without the older image.
    later = await turn(res, who, "And now?")
    assert skips(later) == [] and one(later, "done").model.model_id == BACKUP_MODEL
    assert all(isinstance(m["content"], str) for m in fake_openai.last.json()["messages"])


async def test_when_no_model_takes_images_the_turn_is_refused_and_nothing_is_stored(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url, premiere_slot=False)
    await presets.update_preset(res.db, res.settings, who.account_id, who.preset_id, {"slots": [
        SlotInput(who.backup, BACKUP_MODEL)]})
    events = await image_turn(res, who)
    error = one(events, "error")["error"]
    assert error.kind == "no_vision" and "takes images" in error.message and "user" not in [e.name for e in events]


async def test_anthropic_gets_the_image_as_a_base64_block(res, fake_openai, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url, primary_provider="anthropic", primary_origin=fake_anthropic.url,
                       premiere_slot=False)
    events = await image_turn(res, who, text="")
    assert text_of(events) and skips(events) == []
    content = fake_anthropic.last.json()["messages"][-1]["content"]
    assert content == [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}}]


def test_images_are_checked() -> None:
    for media_type, data in (("image/tiff", PIXEL), ("image/png", "not base64!"), ("image/png", "")):
        with pytest.raises(Invalid):
            messages.check_image(media_type, data)
    with pytest.raises(Invalid):
        messages.check_image("image/png", base64.b64encode(b"x" * (messages.MAX_IMAGE_BYTES + 1)).decode())
