"""A long scene: a turn reads the newest `HISTORY_PAGE` messages and the older ones only when the
model's window takes every one of those, so the provider gets what a read of the whole history
gave (docs/decisions.md, "A turn reads the newest history")."""

from __future__ import annotations

from typing import Any

from rolecall.services import connections, gateway, pass_jobs
from rolecall.services.messages import HISTORY_PAGE
from rolecall.storage.scene_tables import Message, MessageAlternative
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.group.helpers import group_scene
from tests.loopback_fixtures import settings  # noqa: F401
from tests.scene_helpers import Owner, only, post, scene_with, server_config, stream

FIRST = "Storm's coming. You'd best come inside."  # the character's first message, at position 0


async def _grow(app: Any, owner: Owner, scene_id: str, count: int, text: str = "line {n}") -> list[str]:
    """``count`` more messages after the first one, the person and the character in turn; their ids."""
    ids = []
    async with app.state.res.db.begin() as s:
        for n in range(1, count + 1):
            message = Message(scene_id=scene_id, account_id=owner.account_id, position=n,
                              role="user" if n % 2 else "assistant")
            s.add(message)
            await s.flush()
            s.add(MessageAlternative(message_id=message.id, idx=0, text=text.format(n=n)))
            ids.append(message.id)
    return ids


def _sent_lines(fake_openai: Any) -> list[str]:  # type: ignore[no-untyped-def]
    """The history the provider got: every message but the system text and the opening line, if any."""
    messages = fake_openai.last.json()["messages"]
    assert messages[0]["role"] == "system"
    return [m["content"] for m in messages[1:] if m["content"] != "(The scene begins.)"]


async def test_a_window_that_takes_every_message_gets_the_whole_long_scene(app, owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_with(owner.client, config_id)
    count = 2 * HISTORY_PAGE + 1  # more than a page, and short lines: all fit any window
    await _grow(app, owner, scene["id"], count)

    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Now."})

    assert events[-1].name == "done", events[-1]
    assert _sent_lines(fake_openai) == [FIRST, *(f"line {n}" for n in range(1, count + 1)), "Now."]


async def test_a_small_window_gets_the_newest_messages_that_fit(app, owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_with(owner.client, config_id, model_id="local-roleplay")  # unknown: an 8,192-token window
    count = 2 * HISTORY_PAGE + 10
    await _grow(app, owner, scene["id"], count, text="line {n} " + "word " * 100)  # ~170 tokens each

    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Now."})

    assert events[-1].name == "done", events[-1]
    sent = _sent_lines(fake_openai)
    assert sent[-1] == "Now." and 1 < len(sent) < HISTORY_PAGE  # fewer than a page fit
    kept = [int(line.split()[1]) for line in sent[:-1]]
    assert kept == list(range(count - len(kept) + 1, count + 1))  # the newest ones, in order


async def test_a_reply_older_than_the_newest_messages_can_be_regenerated(app, owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_with(owner.client, config_id)
    ids = await _grow(app, owner, scene["id"], 2 * HISTORY_PAGE)
    old_reply = ids[3]  # position 4, a reply of the character's
    fake_openai.reply.text = "Said again."

    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages/{old_reply}/regenerate", {})

    assert events[-1].name == "done", events[-1]
    done = only(events, "done")
    assert done["id"] == old_reply and done["text"] == "Said again." and len(done["alternatives"]) == 2
    assert _sent_lines(fake_openai) == [FIRST, "line 1", "line 2", "line 3"]  # what came before it

    refused = await post(owner.client, f"/api/scenes/{scene['id']}/messages/{old_reply}/continue", {})
    assert refused.status_code == 400 and "Only the last reply can be continued." in refused.text


async def test_a_group_turn_on_a_long_scene_hears_the_older_lines_as_its_speaker(app, owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    # A group turn reads the newest page too, and the older messages it reads after are heard as
    # the newest are: the speaker's own lines as its own, another character's as "Name: text".
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id)
    ada, bram = scene["cast"]["Ada"], scene["cast"]["Bram"]
    count = 2 * HISTORY_PAGE + 1
    authors = [None if n % 3 == 0 else ada if n % 3 == 1 else bram for n in range(count)]
    async with app.state.res.db.begin() as s:  # no opening line: the scene starts at position 0
        for n, author in enumerate(authors):
            message = Message(scene_id=scene["id"], account_id=owner.account_id, position=n,
                              role="assistant" if author else "user", character_id=author)
            s.add(message)
            await s.flush()
            s.add(MessageAlternative(message_id=message.id, idx=0, text=f"line {n}"))

    res = app.state.res
    prepared = await gateway.prepare(res, owner.account_id, scene["id"], "send", character_id=ada)
    events = [e async for e in gateway.run(res, prepared, connections.ServerKey())]

    assert events[-1].name == "done", events[-1]
    heard = {None: ("user", "line {n}"), ada: ("assistant", "line {n}"), bram: ("user", "Bram: line {n}")}
    sent = [(m["role"], m["content"]) for m in fake_openai.last.json()["messages"][1:]]
    assert sent == [(heard[a][0], heard[a][1].format(n=n)) for n, a in enumerate(authors)]


async def test_a_scheduled_regenerate_on_a_long_scene_gets_the_whole_history_before_the_reply(app, owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    # The background pass reads the newest page and older ones as the window takes them, as a turn does.
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_with(owner.client, config_id)
    count = 2 * HISTORY_PAGE + 2  # the last one a reply
    reply_id = (await _grow(app, owner, scene["id"], count))[-1]

    made = await pass_jobs.regenerate(app.state.res, owner.account_id, scene["id"], reply_id)

    assert made == {"alternative": 1}
    assert _sent_lines(fake_openai) == [FIRST, *(f"line {n}" for n in range(1, count))]
