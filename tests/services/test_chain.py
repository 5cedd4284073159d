"""The fallback chain in a real turn: each trigger moves on, each skip is logged, one reply arrives."""

from __future__ import annotations

import pytest

from rolecall.config import LimitSettings
from rolecall.services import breaker, connections, gateway, presets, provider_configs, scenes, token_balance
from rolecall.services.presets import SlotInput
from rolecall.storage.generation_tables import TokenLedger
from tests.factories import e2e_record
from tests.fakes.fixtures import _anthropic_server, _openai_server, fake_anthropic, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.services.chain_helpers import (  # noqa: F401
    BACKUP_MODEL,
    HOUSE_MODEL,
    PRIMARY_MODEL,
    attempts,
    chain_settings,
    chat_models,
    house_key,
    names,
    one,
    outcomes,
    person,
    skips,
    squeezed,
    text_of,
    turn,
)

UDK = e2e_record("sealing-only")[1]  # the server never opens an End-to-End key: any key seals the test's
REPLY = "Aye. Sit by the fire, and mind the lamp."


@pytest.fixture
def settings(make_settings, fake_openai):  # type: ignore[no-untyped-def]
    return chain_settings(make_settings, fake_openai)


@pytest.fixture(autouse=True)
def replies(fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.reply.text = REPLY


TRIGGERS = [
    (401, None, "auth"),
    (402, None, "billing"),
    (429, None, "rate_limited"),
    (503, None, "unavailable"),
    (404, {"error": {"message": "The model `gpt-4o-mini` does not exist", "code": "model_not_found"}}, "not_found"),
    (400, {"error": {"message": "This model's maximum context length is 8192 tokens", "code": "context_length_exceeded"}},
     "context_too_long"),
]


@pytest.mark.parametrize(("status", "body", "kind"), TRIGGERS, ids=[t[2] for t in TRIGGERS])
async def test_an_error_before_the_first_token_moves_to_the_next_slot(res, fake_openai, status, body, kind) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url)
    fake_openai.fail_next(status, body=body, path="/chat/completions")
    events = await turn(res, who)
    assert squeezed(names(events)) == ["user", "skipped", "start", "delta", "done"]
    assert skips(events) == [(0, kind)]
    done = one(events, "done")
    assert done.text == REPLY and done.status == "complete" and done.model.model_id == BACKUP_MODEL
    assert chat_models(fake_openai) == [PRIMARY_MODEL, BACKUP_MODEL]
    rows = await attempts(res, who)
    assert outcomes(rows) == [(0, "error", kind), (1, "ok", "")]
    assert rows[0].config_label == "Primary" and rows[1].config_label == "Backup"
    assert rows[1].ttft_ms is not None and rows[1].latency_ms is not None
    assert (rows[1].input_tokens, rows[1].output_tokens) == (12, 9)
    assert all(r.scene_id == who.scene_id and r.preset_id == who.preset_id for r in rows)
    stored = (await scenes.get_scene(res.db, who.account_id, who.scene_id)).messages
    assert [(m.role, m.text) for m in stored] == [("user", "Evening, Mira."), ("assistant", REPLY)]


async def test_a_first_token_timeout_moves_on(make_settings, fake_openai, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    from rolecall.resources import open_resources

    settings = chain_settings(make_settings, fake_openai, limits=LimitSettings(first_token_deadline=0.3))
    fake_anthropic.plan.first_byte_delay = 2.0
    async with open_resources(settings, consume_jobs=False) as res:
        who = await person(res, fake_openai.base_url, primary_provider="anthropic", primary_origin=fake_anthropic.url)
        events = await turn(res, who)
        assert skips(events) == [(0, "timeout")] and text_of(events) == REPLY
        assert outcomes(await attempts(res, who)) == [(0, "error", "timeout"), (1, "ok", "")]


async def test_the_chain_deadline_ends_a_cascade_of_timeouts(make_settings, fake_openai, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    from rolecall.resources import open_resources

    limits = LimitSettings(first_token_deadline=30.0, chain_deadline=0.3)
    settings = chain_settings(make_settings, fake_openai, limits=limits)
    fake_anthropic.plan.first_byte_delay = 2.0
    async with open_resources(settings, consume_jobs=False) as res:
        who = await person(res, fake_openai.base_url, primary_provider="anthropic", primary_origin=fake_anthropic.url)
        events = await turn(res, who)
        assert skips(events) == [(0, "timeout"), (1, "deadline"), (2, "deadline")]
        error = one(events, "error")["error"]
        assert error.kind == "timeout" and "Also tried" in error.message and "overall deadline" in error.message
        assert chat_models(fake_openai) == []  # the later slots were never called
        assert outcomes(await attempts(res, who)) == [(0, "error", "timeout"), (1, "skipped", "deadline"),
                                                      (2, "skipped", "deadline")]


async def test_an_empty_premiere_balance_is_skipped_and_the_backup_answers(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url)
    await presets.update_preset(res.db, res.settings, who.account_id, who.preset_id, {"slots": [
        SlotInput("premiere", HOUSE_MODEL), SlotInput(who.backup, BACKUP_MODEL), SlotInput(who.primary, PRIMARY_MODEL)]})
    await token_balance.current(res.db, res.settings.premiere, who.account_id)
    await token_balance.debit(res.db, who.account_id, 10_000)
    events = await turn(res, who)
    assert skips(events) == [(0, "balance_empty")] and one(events, "done").model.model_id == BACKUP_MODEL
    # Nothing else left: the error says why, the balance first (a deleted config says less).
    await provider_configs.delete(res.db, who.account_id, who.backup)
    await provider_configs.delete(res.db, who.account_id, who.primary)
    refused = await turn(res, who)
    assert skips(refused) == [(0, "balance_empty"), (1, "broken"), (2, "broken")]
    error = one(refused, "error")["error"]
    assert error.kind == "balance_empty" and "balance is empty" in error.message and "Also tried" in error.message


async def test_a_premiere_reply_debits_the_balance_against_its_usage_row(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url)
    fake_openai.fail_next(503, path="/chat/completions", times=2)  # the primary and the backup
    events = await turn(res, who)
    assert skips(events) == [(0, "unavailable"), (1, "unavailable")]
    assert one(events, "done").model.section == "premiere" and text_of(events) == REPLY
    assert fake_openai.last.json()["model"] == "house/llama-3.1-70b"  # the operator's upstream model id
    rows = await attempts(res, who)
    house = rows[-1]
    assert outcomes(rows)[-1] == (2, "ok", "") and house.config_label == "Premiere Theater"
    assert house.premiere_tokens == 21 and house.cost_usd is not None  # the upstream's usage: 12 in, 9 out
    async with res.db() as s:
        from sqlalchemy import select

        debits = (await s.execute(select(TokenLedger.delta, TokenLedger.usage_id)
                                  .where(TokenLedger.account_id == who.account_id, TokenLedger.kind == "debit"))).all()
    assert debits == [(-21, house.id)]
    assert await token_balance.current(res.db, res.settings.premiere, who.account_id) == 10_000 - 21


# --- skips -----------------------------------------------------------------------------------------

async def test_an_e2e_primary_without_its_key_is_skipped(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url, primary_mode="e2e", udk=UDK)
    events = await turn(res, who)
    assert skips(events) == [(0, "key_unavailable")] and text_of(events) == REPLY
    assert chat_models(fake_openai) == [BACKUP_MODEL]
    row = (await attempts(res, who))[0]
    assert (row.outcome, row.error_kind) == ("skipped", "key_unavailable") and "handed over" in row.reason


async def test_the_handed_key_opens_the_e2e_primary(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url, primary_mode="e2e", udk=UDK)
    key = connections.HandedKey.from_form(VALID_KEY)
    events = await turn(res, who, key={who.primary: key})
    assert skips(events) == [] and one(events, "done").model.model_id == PRIMARY_MODEL
    assert fake_openai.last.headers["authorization"] == f"Bearer {VALID_KEY}"


async def test_background_jobs_skip_e2e_and_say_why_when_nothing_else_can_run(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url, primary_mode="e2e", udk=UDK)
    events = await turn(res, who, background=True)
    assert skips(events) == [(0, "key_unavailable")] and text_of(events) == REPLY
    assert one([e for e in events if e.name == "skipped"], "skipped")["reason"] == connections.E2E_IN_BACKGROUND
    await provider_configs.delete(res.db, who.account_id, who.backup)
    only_e2e = await person(res, fake_openai.base_url, primary_mode="e2e", udk=UDK,
                            premiere_slot=False, name="bob")
    await provider_configs.delete(res.db, only_e2e.account_id, only_e2e.backup)
    refused = await turn(res, only_e2e, background=True)
    error = one(refused, "error")["error"]
    assert error.message.startswith(connections.E2E_IN_BACKGROUND)
    assert "user" not in names(refused)  # nothing ran: the person's message is not stored either


async def test_an_open_circuit_is_skipped(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url)
    for _ in range(3):
        verdict = (await breaker.check(res.cache, [who.primary]))[who.primary]
        await breaker.record_failure(res.cache, verdict, "unavailable")
    events = await turn(res, who)
    assert skips(events) == [(0, "circuit_open")] and chat_models(fake_openai) == [BACKUP_MODEL]
    assert "failed 3 times in a row" in (await attempts(res, who))[0].reason


async def test_a_turn_too_long_for_a_window_goes_to_a_larger_one(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    # The first two models take 8K (unknown to RoleCall: the conservative default), the house model 128K.
    fake_openai.models = []
    who = await person(res, fake_openai.base_url, persona="Long winded. " * 1500)
    await presets.update_preset(res.db, res.settings, who.account_id, who.preset_id, {"slots": [
        SlotInput(who.primary, "mystery-model-x"), SlotInput(who.backup, "mystery-model-y"), SlotInput("premiere", HOUSE_MODEL)]})
    events = await turn(res, who)
    assert skips(events) == [(0, "context_too_long"), (1, "context_too_long")]
    assert one(events, "done").model.section == "premiere"
    assert chat_models(fake_openai) == ["house/llama-3.1-70b"]
    rows = await attempts(res, who)
    assert outcomes(rows)[:2] == [(0, "skipped", "context_too_long"), (1, "skipped", "context_too_long")]


async def test_when_no_slot_fits_the_turn_is_refused_before_anything_is_stored(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url, persona="Long winded. " * 1500, premiere_slot=False)
    await presets.update_preset(res.db, res.settings, who.account_id, who.preset_id, {"slots": [
        SlotInput(who.primary, "mystery-model-x")]})
    events = await turn(res, who)
    error = one(events, "error")["error"]
    assert error.kind == "context_too_long" and "larger context window" in error.message
    assert names(events) == ["skipped", "error"] and chat_models(fake_openai) == []


# --- after the first token -------------------------------------------------------------------------

async def test_no_other_model_is_spliced_in_after_the_first_token_and_retry_walks_again(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url)
    fake_openai.plan.break_after = 4  # the role frame and three words, then the connection drops
    events = await turn(res, who)
    partial = text_of(events)
    assert partial and REPLY.startswith(partial) and partial != REPLY
    error = one(events, "error")
    assert error["reply"].status == "interrupted" and error["reply"].text == partial
    assert chat_models(fake_openai) == [PRIMARY_MODEL]  # nothing else was asked
    assert outcomes(await attempts(res, who)) == [(0, "interrupted", "unavailable")]
    # Retry regenerates the interrupted reply: the chain is walked again from the top.
    fake_openai.plan.break_after = None
    fake_openai.fail_next(503, path="/chat/completions")
    again = await turn(res, who, action="regenerate", message_id=error["reply"].id)
    assert skips(again) == [(0, "unavailable")]
    done = one(again, "done")
    assert done.text == REPLY and done.model.model_id == BACKUP_MODEL and done.id == error["reply"].id


# --- samplers and the system prompt ----------------------------------------------------------------

async def test_the_preset_samplers_and_system_prompt_reach_the_request(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url, system_prompt="You are {{char}}, talking with {{user}} in {{scene}}.",
                       values={"temperature": 0.4, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "max_tokens": 300,
                               "presence_penalty": 0.5, "stop": ["\nUser:"]})
    events = await turn(res, who)
    assert text_of(events) == REPLY
    body = fake_openai.last.json()
    assert (body["temperature"], body["top_p"], body["max_completion_tokens"], body["presence_penalty"]) == (0.4, 0.9, 300, 0.5)
    assert body["stop"] == ["\nUser:"] and "top_k" not in body and "min_p" not in body  # OpenAI has no such fields
    assert body["messages"][0]["content"].startswith("You are Mira, talking with alice in The lighthouse.")
    row = (await attempts(res, who))[0]
    assert row.reason == "Not sent (this provider has no such setting): top_k, min_p"



async def test_stop_keeps_the_partial_reply_and_logs_the_attempt_cancelled(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url)
    fake_openai.plan.chunk_delay = 0.05
    prepared = await gateway.prepare(res, who.account_id, who.scene_id, "send", text="Evening, Mira.")
    run = gateway.run(res, prepared, connections.ServerKey())
    seen = []
    async for event in run:
        seen.append(event.name)
        if seen.count("delta") == 2:
            break
    await run.aclose()  # the person pressed Stop (the page went away)
    rows = await attempts(res, who)
    assert outcomes(rows) == [(0, "cancelled", "")] and rows[0].ttft_ms is not None
    stored = (await scenes.get_scene(res.db, who.account_id, who.scene_id)).messages
    assert stored[-1].status == "interrupted" and stored[-1].text and REPLY.startswith(stored[-1].text)


async def test_a_premiere_billing_error_falls_back_to_the_next_slot(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url)
    await presets.update_preset(res.db, res.settings, who.account_id, who.preset_id, {"slots": [
        SlotInput("premiere", HOUSE_MODEL), SlotInput(who.backup, BACKUP_MODEL)]})
    fake_openai.fail_next(402, path="/chat/completions")
    events = await turn(res, who)
    assert skips(events) == [(0, "billing")] and one(events, "done").model.model_id == BACKUP_MODEL
    rows = await attempts(res, who)
    assert [(r.config_label, r.outcome, r.premiere_tokens) for r in rows] == [
        ("Premiere Theater", "error", 0), ("Backup", "ok", 0)]


async def test_a_scene_independent_pass_runs_a_preset_chain_in_the_background(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from rolecall.providers import ChatMessage, ChatRequest
    from rolecall.services import chain_run

    who = await person(res, fake_openai.base_url, primary_mode="e2e", udk=UDK, values={"temperature": 0.2})

    async def build(target: chain_run.Target) -> ChatRequest:
        return ChatRequest((ChatMessage("user", "Summarize the scene."),), model=target.model_id, max_tokens=200)

    run = await chain_run.for_preset(res, who.account_id, build, preset_id=who.preset_id, scene_id=who.scene_id)
    finished = await run.text()
    assert finished.text == REPLY and finished.hop.entry.model_id == BACKUP_MODEL
    assert fake_openai.last.json()["temperature"] == 0.2
    rows = await attempts(res, who)
    assert outcomes(rows) == [(0, "skipped", "key_unavailable"), (1, "ok", "")]
    assert rows[0].reason == connections.E2E_IN_BACKGROUND and rows[1].id == finished.usage_id
    fake_openai.fail_next(503, path="/chat/completions", times=2)
    await token_balance.debit(res.db, who.account_id, 50_000)
    again = await chain_run.for_preset(res, who.account_id, build, preset_id=who.preset_id)
    with pytest.raises(chain_run.ChainFailed) as failed:
        await again.text()
    assert failed.value.failed.error.kind == "unavailable"


async def test_closing_the_events_after_done_keeps_the_reply_complete(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url)
    prepared = await gateway.prepare(res, who.account_id, who.scene_id, "send", text="Evening, Mira.")
    run = gateway.run(res, prepared, connections.ServerKey(), background=True)
    async for event in run:
        if event.name == "done":
            break  # a job that has what it needs and closes the stream
    await run.aclose()
    stored = (await scenes.get_scene(res.db, who.account_id, who.scene_id)).messages
    assert (stored[-1].status, stored[-1].text) == ("complete", REPLY)
    assert outcomes(await attempts(res, who)) == [(0, "ok", "")]


async def test_a_turn_takes_the_scenes_own_preset_else_the_default_and_the_scenes_own_model(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    # The scene's row, its preset (its pick, else the account's default) and its own model's config
    # come from one statement (`gateway._widen`): each must still be the right one.
    who = await person(res, fake_openai.base_url, values={"temperature": 0.4})
    noir = await presets.create(res.db, res.settings, who.account_id, name="Noir", values={"temperature": 1.3},
                                system_prompt="Noir, for {{user}}.", slots=[SlotInput(who.backup, BACKUP_MODEL)])
    await turn(res, who)
    assert (chat_models(fake_openai)[-1], fake_openai.last.json()["temperature"]) == (PRIMARY_MODEL, 0.4)
    await presets.set_scene_preset(res.db, who.account_id, who.scene_id, noir.id)
    await turn(res, who)
    body = fake_openai.last.json()
    assert (body["model"], body["temperature"]) == (BACKUP_MODEL, 1.3)  # Noir's one slot, Noir's samplers
    assert body["messages"][0]["content"].startswith("Noir, for alice.")
    # The AI wing's pick goes first, through its own config, with the scene's preset's samplers.
    await scenes.update_scene(res.db, who.account_id, who.scene_id, {"model": {"section": who.primary,
                                                                              "model_id": "gpt-4.1"}})
    events = await turn(res, who)
    assert one(events, "done").model.model_id == "gpt-4.1"
    body = fake_openai.last.json()
    assert (body["model"], body["temperature"]) == ("gpt-4.1", 1.3)
    await presets.set_scene_preset(res.db, who.account_id, who.scene_id, None)
    await turn(res, who)
    assert (fake_openai.last.json()["model"], fake_openai.last.json()["temperature"]) == ("gpt-4.1", 0.4)
