"""The orchestrator's rules: who speaks next in a group scene (docs/group-scenes.md)."""

from __future__ import annotations

from rolecall.services import cast, orchestrator
from rolecall.services.cast import Member
from rolecall.services.orchestrator import MODEL_REPLY_TOKENS, Said, mention, round_robin
from tests.fakes.server import VALID_KEY
from tests.group.helpers import group_scene, say
from tests.loopback_fixtures import settings  # noqa: F401
from tests.scene_helpers import Owner, e2e_config, server_config

ADA, BRAM, CORA = (Member(i, n, "#6b7280", p, None, False) for p, (i, n) in
                   enumerate((("a", "Ada"), ("b", "Bram"), ("c", "Cora"))))
CAST = (ADA, BRAM, CORA)


def person(text: str = "Hello") -> Said:
    return Said(None, "user", text)


def line(member: Member, text: str = "Mm.") -> Said:
    return Said(member.id, "assistant", text)


def muted(member: Member) -> Member:
    return Member(member.id, member.name, member.avatar_color, member.position, None, True)


def test_round_robin_goes_on_after_the_last_character_and_skips_the_muted() -> None:
    assert round_robin(CAST, [person()]) == "a"
    assert round_robin(CAST, [person(), line(ADA)]) == "b"
    assert round_robin(CAST, [line(ADA), line(BRAM), person()]) == "c"
    assert round_robin(CAST, [line(CORA)]) == "a"
    assert round_robin((ADA, muted(BRAM), CORA), [line(ADA)]) == "c"
    assert round_robin((muted(ADA), muted(BRAM), muted(CORA)), [person()]) is None


def test_round_robin_lets_the_only_speaker_answer_the_person_but_not_itself() -> None:
    alone = (ADA, muted(BRAM))
    assert round_robin(alone, [line(ADA), person()]) == "a"
    assert round_robin(alone, [person(), line(ADA)]) is None


def test_mention_picks_the_earliest_name_in_the_last_line_only() -> None:
    assert mention(CAST, [person("cora, then BRAM.")]) == "c"
    assert mention(CAST, [person("Bram and Cora")]) == "b"
    assert mention(CAST, [line(ADA, "Bram"), person("nobody")]) is None
    assert mention(CAST, [person("Adam is not Ada's cousin")]) == "a"  # whole words: "Ada's" names Ada
    assert mention(CAST, [line(BRAM, "Bram thinks Cora knows")]) == "c"  # never its own author
    assert mention((ADA, BRAM, muted(CORA)), [person("Cora?")]) is None




async def _pick(app, owner: Owner, scene: dict) -> orchestrator.Pick:  # type: ignore[type-arg]
    res = app.state.res
    members = (await cast.group_view(res.db, owner.account_id, scene["id"])).cast
    return await orchestrator.next_speaker(res, owner.account_id, scene["id"], "model", members)


async def test_the_model_rule_asks_the_scenes_model_for_a_name(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, rule="model", turn_limit=1)
    fake_openai.reply.text = "Bram."
    pick = await _pick(app, owner, scene)
    assert (pick.character_id, pick.how) == (scene["cast"]["Bram"], "model")
    asked = fake_openai.last.json()
    assert "Ada, Bram" in asked["messages"][0]["content"] and MODEL_REPLY_TOKENS in asked.values()


async def test_the_model_rule_falls_back_to_round_robin_on_any_failure(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, rule="model", turn_limit=1)
    fake_openai.fail_next(500)
    assert await _pick(app, owner, scene) == orchestrator.Pick(scene["cast"]["Ada"], "round_robin")
    fake_openai.reply.text = "Nobody you know."
    assert await _pick(app, owner, scene) == orchestrator.Pick(scene["cast"]["Ada"], "round_robin")
    e2e = await e2e_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    other = await group_scene(owner.client, ("Dov", "Eli"), section=e2e, rule="model")
    calls = len(fake_openai.requests)
    assert await _pick(app, owner, other) == orchestrator.Pick(other["cast"]["Dov"], "round_robin")
    assert len(fake_openai.requests) == calls  # an E2E key is never asked for a name


async def test_the_model_rule_runs_a_whole_round(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, rule="model", turn_limit=1)
    fake_openai.reply.text = "Bram"
    await say(owner.client, scene["id"], "Well?")
    await app.state.res.queue.drain()
    shown = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    assert [(m["character_id"], m["text"]) for m in shown if m["role"] == "assistant"] == [(scene["cast"]["Bram"], "Bram")]
