"""Chatting in a scene: the reply streams from the fake provider and is stored as the page shows it."""

from __future__ import annotations

from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.loopback_fixtures import settings  # noqa: F401
from tests.scene_helpers import Owner, only, reply_text, scene_with, server_config, stream


async def test_a_message_streams_a_reply_and_both_are_stored(owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_with(owner.client, config_id)
    fake_openai.reply.text = "Aye. Sit by the fire, and mind the lamp."
    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Evening, Mira."})
    assert [e.name for e in events][:2] == ["user", "start"] and events[-1].name == "done"
    assert reply_text(events) == "Aye. Sit by the fire, and mind the lamp."
    assert only(events, "user")["text"] == "Evening, Mira."
    done = only(events, "done")
    assert done["text"] == "Aye. Sit by the fire, and mind the lamp." and done["status"] == "complete"
    assert done["finish_reason"] == "stop" and done["usage"] == {"input_tokens": 12, "output_tokens": 9}
    assert done["model"]["section"] == config_id and done["model"]["model_id"] == "gpt-4o-mini"
    # The upstream got the character, the scene and the history in order.
    sent = fake_openai.last.json()
    assert sent["model"] == "gpt-4o-mini" and sent["stream"] is True
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "Mira" in sent["messages"][0]["content"] and "lighthouse keeper" in sent["messages"][0]["content"]
    assert sent["messages"][2]["content"] == "Storm's coming. You'd best come inside."
    assert sent["messages"][3]["content"] == "Evening, Mira."
    stored = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    assert [(m["role"], m["text"], m["status"]) for m in stored] == [
        ("assistant", "Storm's coming. You'd best come inside.", "complete"),
        ("user", "Evening, Mira.", "complete"),
        ("assistant", "Aye. Sit by the fire, and mind the lamp.", "complete"),
    ]
    assert stored[2]["id"] == only(events, "start")["message_id"] == done["id"]
    # What the stream showed is what a reload shows, field for field.
    assert stored[1] == only(events, "user") and stored[2] == done
