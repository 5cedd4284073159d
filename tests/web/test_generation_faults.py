"""When generation goes wrong the scene stays consistent, nothing is lost, and the error says what to do."""

from __future__ import annotations

import pytest

from rolecall.config import NetworkSettings
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.scene_helpers import (
    Owner,
    character,
    e2e_config,
    only,
    patch,
    post,
    reply_text,
    scene_with,
    server_config,
    stream,
)

TEXT = "One two three four five six seven eight"


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    network = NetworkSettings(allow_private=["127.0.0.0/8"], read_timeout=1.0)
    return make_settings(network=network)



@pytest.fixture
async def scene(owner: Owner, fake_openai) -> dict:  # type: ignore[no-untyped-def,type-arg]
    fake_openai.reply.text = TEXT
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    return await scene_with(owner.client, config_id)


async def messages_of(owner: Owner, scene: dict) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    stored = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    return [(m["role"], m["text"], m["status"]) for m in stored]


OPENING = ("assistant", "Storm's coming. You'd best come inside.", "complete")
ASKED = ("user", "Tell me a story.", "complete")


async def send(owner: Owner, scene: dict, text: str = "Tell me a story.", **extra) -> list:  # type: ignore[no-untyped-def,type-arg]
    return await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": text, **extra})


# --- faults mid-stream: the partial reply is kept, marked interrupted ------------------------------

@pytest.mark.parametrize(("fault", "kind"), [("reset", "unavailable"), ("malformed", "bad_response"), ("in_band", "unavailable")])
async def test_a_stream_that_breaks_keeps_the_partial_reply(owner: Owner, scene: dict, fake_openai, fault: str, kind: str) -> None:  # type: ignore[no-untyped-def,type-arg]
    if fault == "reset":
        fake_openai.plan.break_after = 4  # role frame + 3 words, then the connection drops
    elif fault == "malformed":
        fake_openai.plan.malformed_at = 4
    else:
        fake_openai.stream_error = {"message": "Upstream provider crashed", "code": 502}
    events = await send(owner, scene)
    partial = reply_text(events)
    assert partial and TEXT.startswith(partial) and partial != TEXT
    error = only(events, "error")
    assert error["kind"] == kind and error["retryable"] is True
    assert error["reply"]["status"] == "interrupted" and error["reply"]["text"] == partial
    assert error["reply"]["error"]["kind"] == kind
    assert await messages_of(owner, scene) == [OPENING, ASKED, ("assistant", partial, "interrupted")]


# --- faults before the first token: no empty reply is left behind --------------------------------

async def test_rate_limit_says_when_to_retry_and_leaves_no_reply(owner: Owner, scene: dict, fake_openai) -> None:  # type: ignore[no-untyped-def,type-arg]
    fake_openai.fail_next(429, headers={"retry-after": "7"}, path="/chat/completions")
    events = await send(owner, scene)
    error = only(events, "error")
    assert error["kind"] == "rate_limited" and error["retry_after"] == 7 and error["reply"] is None
    assert "rate limit was hit" in error["message"] and "wait 7 seconds" in error["message"]
    assert "during the test" not in error["message"]
    assert await messages_of(owner, scene) == [OPENING, ASKED]
    # The provider's Retry-After is honoured for this config: a retry within it is not sent upstream.
    calls = len(fake_openai.requests)
    again = only(await send(owner, scene, text=""), "error")
    assert again["kind"] == "rate_limited" and "retrying after" in again["message"]
    assert len(fake_openai.requests) == calls


async def test_retry_after_an_error_answers_the_message_already_there(owner: Owner, scene: dict, fake_openai) -> None:  # type: ignore[no-untyped-def,type-arg]
    fake_openai.fail_next(503, path="/chat/completions")
    assert only(await send(owner, scene), "error")["kind"] == "unavailable"
    assert await messages_of(owner, scene) == [OPENING, ASKED]
    # Retry (no new text): the character answers the message already there.
    retried = await send(owner, scene, text="")
    assert retried[0].name == "start" and reply_text(retried) == TEXT
    assert await messages_of(owner, scene) == [OPENING, ASKED, ("assistant", TEXT, "complete")]


async def test_slow_first_byte_times_out_cleanly(owner: Owner, scene: dict, fake_openai) -> None:  # type: ignore[no-untyped-def,type-arg]
    fake_openai.plan.first_byte_delay = 2.0  # the read timeout is 1 s
    error = only(await send(owner, scene), "error")
    assert error["kind"] == "timeout" and error["reply"] is None and "took too long" in error["message"]
    assert await messages_of(owner, scene) == [OPENING, ASKED]


async def test_provider_down_says_it_is_not_the_key(owner: Owner, scene: dict, fake_openai) -> None:  # type: ignore[no-untyped-def,type-arg]
    fake_openai.fail_next(503, path="/chat/completions")
    error = only(await send(owner, scene), "error")
    assert error["kind"] == "unavailable" and "Not a key problem" in error["message"]


async def test_model_not_available_to_the_key(owner: Owner, scene: dict, fake_openai) -> None:  # type: ignore[no-untyped-def,type-arg]
    fake_openai.fail_next(404, body={"error": {"message": "The model `gpt-9` does not exist", "code": "model_not_found"}},
                          path="/chat/completions")
    # A custom base URL reads a 404 as a wrong path; this config uses the fake as its base, so the
    # guide's custom-endpoint advice is what the person sees.
    error = only(await send(owner, scene), "error")
    assert error["kind"] == "not_found" and error["reply"] is None


async def test_rejected_key_marks_the_config_invalid(owner: Owner, scene: dict, fake_openai) -> None:  # type: ignore[no-untyped-def,type-arg]
    fake_openai.keys = {"sk-some-other-key-000000000000"}
    error = only(await send(owner, scene), "error")
    config_id = scene["model"]["section"]
    assert error["kind"] == "auth" and error["headline"] == "The key was rejected" and error["config_id"] == config_id
    assert "Test Key" in error["message"] and error["retryable"] is False
    config = next(c for c in (await owner.client.get("/api/provider-configs")).json() if c["id"] == config_id)
    assert config["status"] == "invalid"


# --- refusals before anything is sent: nothing is stored -----------------------------------------

async def test_no_model_chosen(owner: Owner) -> None:
    scene = await scene_with(owner.client)
    error = only(await send(owner, scene), "error")
    assert error["kind"] == "no_model" and "AI wing" in error["message"]
    assert await messages_of(owner, scene) == [OPENING]


async def test_premiere_without_a_provider_is_a_clear_error(owner: Owner) -> None:
    scene = await scene_with(owner.client, "premiere", "rolecall-house")
    assert scene["model"]["config_label"] == "Premiere Theater"
    error = only(await send(owner, scene), "error")
    assert error["kind"] == "premiere_unavailable" and "Premiere Theater" in error["message"]
    assert await messages_of(owner, scene) == [OPENING]


async def test_a_deleted_config_asks_for_another_model(owner: Owner, scene: dict) -> None:  # type: ignore[type-arg]
    from tests.helpers import csrf_headers

    await owner.client.delete(f"/api/provider-configs/{scene['model']['section']}", headers=await csrf_headers(owner.client))
    error = only(await send(owner, scene), "error")
    assert error["kind"] == "no_model" and "deleted" in error["message"]


async def test_end_to_end_config_needs_the_key_handed_over(owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.reply.text = TEXT
    config_id = await e2e_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_with(owner.client, config_id)
    assert scene["model"]["privacy_mode"] == "e2e"
    error = only(await send(owner, scene), "error")
    assert error["kind"] == "key_needed" and error["config_id"] == config_id and "recovery phrase" in error["message"]
    assert await messages_of(owner, scene) == [OPENING] and not fake_openai.requests
    events = await send(owner, scene, key={"api_key": VALID_KEY, "headers": {}})
    assert reply_text(events) == TEXT
    assert fake_openai.last.headers["authorization"] == f"Bearer {VALID_KEY}"


async def test_a_turn_that_cannot_fit_is_refused_before_sending(owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    # An unknown model gets the conservative 8K window; this persona alone needs more.
    scene = await scene_with(owner.client, config_id, "mystery-model-x", persona="Long winded. " * 1500)
    error = only(await send(owner, scene), "error")
    assert error["kind"] == "context_too_long" and "larger context window" in error["message"]
    assert not [r for r in fake_openai.requests if r.path.endswith("/chat/completions")]
    assert len(await messages_of(owner, scene)) == 1


async def test_long_history_is_trimmed_to_the_window(owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_with(owner.client, config_id, "mystery-model-x")
    for n in range(6):
        await send(owner, scene, text=f"Message {n}: " + "blah " * 1200)  # ~2,000 tokens each by our estimate
    sent = fake_openai.last.json()["messages"]
    assert sent[0]["role"] == "system" and sent[-1]["content"].startswith("Message 5:")
    assert not any(m["content"].startswith("Message 0:") for m in sent)
    assert sent[1]["role"] == "user"  # the conversation opens with the person (Anthropic/Gemini need it)


# --- regenerate, continue, edit, flip, delete ----------------------------------------------------

async def test_regenerate_keeps_earlier_alternatives_and_flips(owner: Owner, scene: dict, fake_openai) -> None:  # type: ignore[no-untyped-def,type-arg]
    first = only(await send(owner, scene), "done")
    fake_openai.reply.text = "A different tale entirely"
    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages/{first['id']}/regenerate", {})
    assert only(events, "start") ["alternative"] == 1
    done = only(events, "done")
    assert done["id"] == first["id"] and done["active"] == 1 and done["text"] == "A different tale entirely"
    assert [a["text"] for a in done["alternatives"]] == [TEXT, "A different tale entirely"]
    # The regenerated reply was written from the history before it, not after.
    assert fake_openai.last.json()["messages"][-1]["content"] == "Tell me a story."
    flipped = await patch(owner.client, f"/api/scenes/{scene['id']}/messages/{first['id']}", {"active": 0})
    assert flipped.json()["text"] == TEXT and flipped.json()["active"] == 0
    assert (await patch(owner.client, f"/api/scenes/{scene['id']}/messages/{first['id']}", {"active": 5})).status_code == 400
    assert (await messages_of(owner, scene))[-1] == ("assistant", TEXT, "complete")


async def test_continue_extends_the_last_reply(owner: Owner, scene: dict, fake_openai) -> None:  # type: ignore[no-untyped-def,type-arg]
    first = only(await send(owner, scene), "done")
    fake_openai.reply.text = " nine ten"
    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages/{first['id']}/continue", {})
    assert only(events, "done")["text"] == TEXT + " nine ten"
    assert fake_openai.last.json()["messages"][-1] == {"role": "assistant", "content": TEXT}
    user_id = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"][1]["id"]
    refused = await post(owner.client, f"/api/scenes/{scene['id']}/messages/{user_id}/continue", {})
    assert refused.status_code == 400


async def test_edit_and_delete_messages(owner: Owner, scene: dict) -> None:  # type: ignore[type-arg]
    from tests.helpers import csrf_headers

    only(await send(owner, scene), "done")
    stored = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    edited = await patch(owner.client, f"/api/scenes/{scene['id']}/messages/{stored[1]['id']}", {"text": "  Tell me two.  "})
    assert edited.status_code == 200 and edited.json()["text"] == "Tell me two."
    assert (await patch(owner.client, f"/api/scenes/{scene['id']}/messages/{stored[1]['id']}", {"text": " "})).status_code == 400
    deleted = await owner.client.delete(f"/api/scenes/{scene['id']}/messages/{stored[2]['id']}",
                                        headers=await csrf_headers(owner.client))
    assert deleted.status_code == 204
    assert await messages_of(owner, scene) == [OPENING, ("user", "Tell me two.", "complete")]


async def test_scene_list_orders_by_activity_and_previews(owner: Owner, scene: dict) -> None:  # type: ignore[type-arg]
    other = await post(owner.client, "/api/scenes", {"character_ids": [(await character(owner.client, "Bo"))["id"]]})
    assert (await owner.client.get("/api/scenes")).json()["scenes"][0]["id"] == other.json()["id"]
    only(await send(owner, scene), "done")
    listed = (await owner.client.get("/api/scenes")).json()["scenes"]
    assert listed[0]["id"] == scene["id"] and listed[0]["last_message_preview"] == TEXT
    assert listed[0]["model"]["model_id"] == "gpt-4o-mini"
