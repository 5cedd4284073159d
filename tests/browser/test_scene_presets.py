"""A scene's preset and the guide's fallback chain in a real browser (docs/user-guide.md,
"In the AI Wing (Inside a Live Scene)": primary a direct Anthropic key (E2E), fallback OpenRouter
(Server-Accessible), last fallback a Premiere Theater model; "1. What BYOK Is — and When to Use It":
no key needed for the Premiere Theater; "2. Open Settings → API Keys Tab": the Token Balance).

The fakes stand in for Anthropic, OpenRouter and the operator's OpenAI-compatible server behind the
Premiere Theater. Waits on the page's own signals (data-state, data-status), never on sleeps.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    Server,
    add_e2e_config,
    add_tested_config,
    api_call,
    encryption_set_up_by_api,
    last_reply,
    page_says,
    running_fakes,
    say,
    sign_up,
    start_server,
)
from tests.browser.test_accessibility import axe_violations
from tests.factories import PHRASE
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai_compat import FakeOpenAI

pytestmark = pytest.mark.browser
E2E_KEY = "sk-ant-e2e-private-0123456789abcdefPRIV"
HOUSE_KEY = "sk-house-operator-0123456789abcdef"
HAIKU, HAIKU_NAME = "claude-haiku-4-5-20251001", "Claude Haiku 4.5"
ROUTED, ROUTED_NAME = "anthropic/claude-haiku-4.5", "Anthropic: Claude Haiku 4.5"
CLAUDE_SAYS = "The tide keeps its own hours."
ROUTER_SAYS = "Routed around the storm, as promised."
HOUSE_SAYS = "The house lights are always on."


@pytest.fixture(scope="module")
def fakes() -> Iterator[SimpleNamespace]:
    yield from running_fakes(anthropic=FakeAnthropic(), router=FakeOpenAI(), house=FakeOpenAI())


@pytest.fixture(autouse=True)
def fresh_fakes(fakes: SimpleNamespace) -> None:
    for fake in vars(fakes).values():
        fake.reset()
    fakes.anthropic.keys |= {E2E_KEY}
    fakes.anthropic.reply.text = CLAUDE_SAYS
    # OpenRouter serves the same model family under vendor/model ids.
    fakes.router.models.append({"id": ROUTED, "object": "model", "name": ROUTED_NAME, "context_length": 200000,
                                "pricing": {"prompt": "0.000001", "completion": "0.000005"}})
    fakes.router.reply.text = ROUTER_SAYS
    fakes.house.keys = {HOUSE_KEY}
    fakes.house.reply.text = HOUSE_SAYS


@pytest.fixture(scope="module")
def premiere_server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None,
                    fakes: SimpleNamespace) -> Iterator[Server]:
    """The operator's [premiere] settings point at a local OpenAI-compatible server (the house fake)."""
    upstream = {"id": "house", "provider": "custom_openai", "base_url": fakes.house.base_url,
                "api_key_env": "ROLECALL_TEST_HOUSE_KEY", "allow_private": True}
    model = {"id": "house-llama", "upstream": "house", "upstream_model": "gpt-4o-mini", "name": "House Llama",
             "context_window": 131072, "max_output": 8192}
    srv = start_server(
        tmp_path_factory, postgres_url, ROLECALL_NETWORK__ALLOW_PRIVATE='["127.0.0.0/8"]',
        ROLECALL_PREMIERE__UPSTREAMS=json.dumps([upstream]), ROLECALL_PREMIERE__MODELS=json.dumps([model]),
        ROLECALL_PREMIERE__STARTING_GRANT="50000", ROLECALL_PREMIERE__REFILL_TOKENS="50000",
        ROLECALL_TEST_HOUSE_KEY=HOUSE_KEY,
    )
    yield srv
    srv.stop()


# ---- what a person does --------------------------------------------------------------------------

def new_person(chromium: Any, server: Server, name: str, **context_args: Any) -> Page:
    page = chromium.new_context(**context_args).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    sign_up(page, server, name)
    return page


def new_scene(page: Page, server: Server) -> str:
    character = api_call(page, "POST", "/api/characters",
                         {"name": "Mara Vell", "persona": "A lighthouse keeper.", "first_message": "You're late."})
    scene = api_call(page, "POST", "/api/scenes", {"character_ids": [character["id"]]})
    page.goto(f"{server.url}/scenes/{scene['id']}")
    expect(page.locator("[data-scene]")).to_have_attribute("data-state", "ready")
    expect(page.locator('[data-role="scene-preset"]')).to_have_attribute("data-state", "ready")
    return str(scene["id"])


def reply_arrives(page: Page, text: str) -> None:
    expect(page.locator("[data-scene]")).to_have_attribute("data-state", "ready")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(last_reply(page)).to_contain_text(text)
    assert page.locator('[data-role="error"]').is_hidden(), page_says(page)


def pick_in_editor(page: Page, query: str, model: str, section: str) -> None:
    page.get_by_label("Search models to add").fill(query)
    page.get_by_role("button", name=re.compile(rf"^Use {re.escape(model)} .* from {re.escape(section)}$")).click()


def axe_clean(page: Page, axe_script: Path) -> None:
    """No axe-core violations on the page as it is, on a desktop and on a phone viewport."""
    for width, height in ((390, 844), (1280, 800)):
        page.set_viewport_size({"width": width, "height": height})
        assert not (problems := axe_violations(page, axe_script)), (width, problems)


def chats(fake: Any, path: str = "/chat/completions") -> list[Any]:
    return [r for r in fake.requests if r.path.endswith(path)]


def usage_rows(page: Page, server: Server, want: int) -> Locator:
    """The Usage page once `want` attempts are listed (rows are written in batches, just after a turn)."""
    deadline = time.monotonic() + 20
    while True:
        page.goto(server.url + "/usage")
        rows = page.locator('[data-testid="usage-rows"] tbody tr')
        if rows.count() >= want or time.monotonic() > deadline:
            return rows
        page.wait_for_timeout(250)


# ---- tests -------------------------------------------------------------------------------------

def test_scene_picks_its_preset_and_shows_the_chain(chromium: Any, premiere_server: Server, fakes: SimpleNamespace,
                                                   axe_script: Path) -> None:
    page = new_person(chromium, premiere_server, "preset-picker", bypass_csp=True)  # bypass: axe-core goes inline
    encryption_set_up_by_api(page)
    router = add_tested_config(page, "OpenRouter fallback (group-safe)", "openrouter", fakes.router.base_url)["id"]
    api_call(page, "POST", "/api/presets", {"name": "Everyday", "slots": [{"section": "premiere", "model_id": "house-llama"}]})
    api_call(page, "POST", "/api/presets", {"name": "Claude first", "slots": [
        {"section": router, "model_id": ROUTED}, {"section": "premiere", "model_id": "house-llama"}]})
    scene_id = new_scene(page, premiere_server)

    # The default preset is in use; its primary answers, since the wing has no pick yet.
    preset = page.get_by_label("Preset", exact=True)
    expect(preset).to_have_value("")
    expect(preset.locator("option:checked")).to_have_text("Default: Everyday")
    header = page.locator('[data-role="current-model"]')
    expect(header).to_have_attribute("data-model-id", "house-llama")
    expect(header).to_contain_text("the preset's primary")
    chain = page.locator('[data-role="preset-chain"]')
    expect(chain).to_contain_text("“Everyday” has no fallback models yet.")

    # Pick another preset from the keyboard: its chain applies, and the choice is kept.
    preset.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator('[data-role="scene-preset"]')).to_have_attribute("data-state", "ready")
    expect(preset.locator("option:checked")).to_have_text("Claude first")
    expect(page.locator('[data-role="live"]')).to_have_text("This scene now uses the preset Claude first; its fallback chain applies.")
    expect(header).to_have_attribute("data-model-id", ROUTED)
    expect(chain).to_contain_text("Fallbacks, in order, when the model fails before it answers:")
    expect(chain).to_contain_text("via Premiere Theater")
    assert api_call(page, "GET", f"/api/scene-presets/{scene_id}")["chosen"] is True

    # A model picked in the AI wing becomes the scene's primary; the preset's chain follows it.
    page.locator(f'#ai-wing [data-section="{router}"] [data-model="gpt-4o-mini"] .model-pick').click()
    expect(header).to_have_attribute("data-model-id", "gpt-4o-mini")
    expect(header).not_to_contain_text("the preset's primary")
    expect(chain.locator(".chain__step")).to_have_count(2)
    expect(chain.locator(".chain__step").first).to_contain_text("via OpenRouter fallback (group-safe)")
    axe_clean(page, axe_script)

    page.reload()
    expect(page.locator('[data-role="scene-preset"]')).to_have_attribute("data-state", "ready")
    expect(page.get_by_label("Preset", exact=True).locator("option:checked")).to_have_text("Claude first")

    # Back to the default.
    page.get_by_label("Preset", exact=True).select_option("")
    expect(page.locator('[data-role="live"]')).to_contain_text("the preset Everyday")
    assert api_call(page, "GET", f"/api/scene-presets/{scene_id}")["chosen"] is False
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_guides_three_slot_chain_answers_through_401_429_and_503(
    chromium: Any, premiere_server: Server, fakes: SimpleNamespace, axe_script: Path,
) -> None:
    page = new_person(chromium, premiere_server, "chain-builder", bypass_csp=True)  # bypass: axe-core goes inline
    udk = encryption_set_up_by_api(page)
    add_e2e_config(page, udk, "Anthropic personal", "anthropic", fakes.anthropic.base_url, E2E_KEY)
    add_tested_config(page, "OpenRouter fallback (group-safe)", "openrouter", fakes.router.base_url)

    # The guide's example, built in the preset editor's API Options card.
    page.goto(premiere_server.url + "/presets")
    page.get_by_role("button", name="+ New preset").click()
    page.get_by_label("Name").fill("Guide chain")
    page.get_by_label("Default preset (used by scenes that have not picked one)").check()
    page.get_by_label("Presence penalty").fill("0.3")
    page.get_by_role("button", name="+ Add a model").click()
    pick_in_editor(page, "haiku 4.5", HAIKU_NAME, "Anthropic personal")
    pick_in_editor(page, "haiku 4.5", ROUTED_NAME, "OpenRouter fallback (group-safe)")
    pick_in_editor(page, "house", "House Llama", "Premiere Theater")
    slots = page.locator("#slot-list .slot")
    expect(slots).to_have_count(3)
    page.get_by_role("button", name="Save preset").click()
    expect(page.get_by_role("status").filter(has_text="Saved “Guide chain”.")).to_be_visible()
    # Anthropic has no presence penalty: the editor says it is not sent there.
    expect(slots.nth(0)).to_contain_text("Not sent to this provider (no such setting): presence penalty.")
    expect(slots.nth(1)).not_to_contain_text("Not sent")
    axe_clean(page, axe_script)

    # A scene uses it: the E2E primary needs the key opened in this browser, once.
    new_scene(page, premiere_server)
    expect(page.locator('[data-role="current-model"]')).to_have_attribute("data-model-id", HAIKU)
    expect(page.locator('[data-role="preset-chain"] .chain__step')).to_have_count(2)
    say(page, "Is the light on?")
    expect(page.locator("[data-scene]")).to_have_attribute("data-needs-unlock", "true")
    page.get_by_label("Recovery phrase").fill(PHRASE)
    page.get_by_role("button", name="Unlock and send").click()
    reply_arrives(page, CLAUDE_SAYS)
    assert chats(fakes.anthropic, "/messages")[-1].headers["x-api-key"] == E2E_KEY

    # The primary fails before its first token: 401, then 429, then 503. The reply still arrives.
    for status, line in ((401, "Are you there?"), (429, "Still there?"), (503, "And now?")):
        fakes.anthropic.fail_next(status, path="/messages")
        say(page, line)
        reply_arrives(page, ROUTER_SAYS)
        assert chats(fakes.router)[-1].json()["model"] == ROUTED
        assert chats(fakes.router)[-1].json()["presence_penalty"] == 0.3
    assert all("presence_penalty" not in r.json() for r in chats(fakes.anthropic, "/messages"))
    expect(page.locator('.msg[data-role="user"]')).to_have_count(4)
    assert E2E_KEY not in premiere_server.log()

    # Both the primary and OpenRouter are down: the Premiere Theater answers.
    fakes.anthropic.fail_next(503, path="/messages")
    fakes.router.fail_next(503, path="/chat/completions")
    say(page, "Anyone?")
    reply_arrives(page, HOUSE_SAYS)
    assert chats(fakes.house)[-1].headers["authorization"] == f"Bearer {HOUSE_KEY}"

    # The usage log shows every attempt: the primary's errors, the fallbacks that answered.
    usage_rows(page, premiere_server, want=10)
    errors = page.locator('[data-testid="usage-rows"] tr[data-outcome="error"]')
    ok = page.locator('[data-testid="usage-rows"] tr[data-outcome="ok"]')
    expect(errors).to_have_count(5)
    expect(ok).to_have_count(5)
    primary_errors = errors.filter(has_text="Anthropic personal")
    expect(primary_errors).to_have_count(4)
    for kind in ("auth", "rate_limited", "unavailable"):
        expect(primary_errors.filter(has_text=f"error: {kind}").first).to_be_visible()
    expect(primary_errors.first).to_contain_text("primary")
    expect(ok.filter(has_text="OpenRouter fallback (group-safe)")).to_have_count(3)
    expect(ok.filter(has_text="OpenRouter fallback (group-safe)").first).to_contain_text("fallback 1")
    expect(ok.filter(has_text="Premiere Theater")).to_have_count(1)
    expect(ok.filter(has_text="Premiere Theater")).to_contain_text("fallback 2")
    expect(ok.first.get_by_role("link", name="Mara Vell")).to_be_visible()  # the scene, and the preset
    expect(ok.first).to_contain_text("Guide chain")
    axe_clean(page, axe_script)
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_interrupted_reply_offers_retry_which_starts_the_chain_again(
    chromium: Any, premiere_server: Server, fakes: SimpleNamespace,
) -> None:
    page = new_person(chromium, premiere_server, "retry")
    encryption_set_up_by_api(page)
    router = add_tested_config(page, "OpenRouter fallback (group-safe)", "openrouter", fakes.router.base_url)["id"]
    api_call(page, "POST", "/api/presets", {"name": "Routed", "slots": [
        {"section": router, "model_id": ROUTED}, {"section": "premiere", "model_id": "house-llama"}]})
    new_scene(page, premiere_server)

    # The stream breaks after the first words: no other model's text is spliced in.
    fakes.router.plan.break_after = 3
    say(page, "Tell me about the storm.")
    error = page.locator('[data-role="error"]')
    expect(error).to_be_visible()
    kept = last_reply(page)
    expect(kept).to_have_attribute("data-status", "interrupted")
    expect(kept).to_contain_text("Routed around")
    expect(kept).not_to_contain_text(HOUSE_SAYS)
    assert chats(fakes.house) == []
    expect(kept.get_by_role("button", name="Retry this reply")).to_be_visible()

    # Retry: the chain starts again from its first model (down now, so the Premiere Theater answers),
    # as a new alternative; the interrupted text stays one click away.
    fakes.router.plan.break_after = None
    fakes.router.fail_next(503, path="/chat/completions")
    error.get_by_role("button", name="Retry").click()
    reply_arrives(page, HOUSE_SAYS)
    expect(error).to_be_hidden()
    assert len(chats(fakes.router)) == 2
    expect(last_reply(page).get_by_label("Reply 2 of 2")).to_be_visible()
    last_reply(page).get_by_role("button", name="Previous reply").click()
    expect(last_reply(page)).to_have_attribute("data-status", "interrupted")
    expect(last_reply(page).get_by_role("button", name="Retry this reply")).to_be_visible()
    expect(page.locator('.msg[data-role="user"]')).to_have_count(1)
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_new_account_with_no_keys_chats_through_the_premiere_theater(
    chromium: Any, premiere_server: Server, fakes: SimpleNamespace,
) -> None:
    page = new_person(chromium, premiere_server, "no-keys")
    page.goto(premiere_server.url + "/settings?tab=api-keys")
    start = int(page.get_by_test_id("balance-amount").inner_text().split()[0].replace(",", ""))
    assert start == 50_000

    new_scene(page, premiere_server)
    expect(page.locator('[data-role="current-model"]')).to_have_attribute("data-model-section", "premiere")
    say(page, "Hello, is anyone home?")
    reply_arrives(page, HOUSE_SAYS)
    sent = chats(fakes.house)[-1]
    assert sent.json()["model"] == "gpt-4o-mini" and sent.headers["authorization"] == f"Bearer {HOUSE_KEY}"

    # The Token Balance shows the debit: the tokens the upstream reported (12 in + 9 out).
    page.goto(premiere_server.url + "/settings?tab=api-keys")
    expect(page.get_by_test_id("balance-amount")).to_have_text(f"{start - 21:,} tokens")
    expect(page.get_by_test_id("balance-used-today")).to_have_text("21 tokens")
    expect(page.get_by_test_id("balance-recent")).to_contain_text("house-llama")
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_end_to_end_fallback_slot_gets_its_key_from_this_browser(
    chromium: Any, premiere_server: Server, fakes: SimpleNamespace,
) -> None:
    page = new_person(chromium, premiere_server, "e2e-fallback")
    udk = encryption_set_up_by_api(page)
    anthropic = add_e2e_config(page, udk, "Anthropic personal", "anthropic", fakes.anthropic.base_url, E2E_KEY)
    router = add_tested_config(page, "OpenRouter fallback (group-safe)", "openrouter", fakes.router.base_url)["id"]
    api_call(page, "POST", "/api/presets", {"name": "Routed, then mine", "slots": [
        {"section": router, "model_id": ROUTED}, {"section": anthropic, "model_id": HAIKU}]})
    new_scene(page, premiere_server)

    # Locked in this browser: a fallback never asks for the phrase; it is skipped, and the error says so.
    fakes.router.fail_next(503, path="/chat/completions")
    say(page, "Anyone awake?")
    error = page.locator('[data-role="error"]')
    expect(error).to_be_visible()
    expect(page.locator("[data-scene]")).not_to_have_attribute("data-needs-unlock", "true")
    assert chats(fakes.anthropic, "/messages") == []

    # Unlocked (remembered on this device): the fallback's key goes with the turn, by its config id.
    page.goto(premiere_server.url + "/settings?tab=api-keys")
    page.get_by_role("textbox", name="Recovery phrase").fill(PHRASE)
    page.get_by_label(re.compile("Remember on this device")).check()
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Unlocked on this device.")).to_be_visible()
    page.go_back()
    expect(page.locator("[data-scene]")).to_have_attribute("data-state", "ready")
    fakes.router.fail_next(503, path="/chat/completions")
    page.locator('.msg[data-role="user"]').last.get_by_role("button", name="Get a reply to this message").click()
    reply_arrives(page, CLAUDE_SAYS)
    assert chats(fakes.anthropic, "/messages")[-1].headers["x-api-key"] == E2E_KEY
    assert E2E_KEY not in premiere_server.log()
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_empty_balance_points_to_the_token_balance_and_a_byok_provider(chromium: Any, premiere_server: Server) -> None:
    page = chromium.new_context().new_page()
    page.goto(premiere_server.url + "/login")  # any page of ours: same origin, same CSP
    view = page.evaluate("""async () => {
      const { describeError } = await import("/static/js/scene_errors.js");
      const view = describeError({ kind: "balance_empty", retryable: false,
        message: "Your Premiere Theater balance is empty; it refills on December 7, 2026, or add a BYOK provider" });
      const box = document.createElement("div");
      box.append(...view.nodes);
      return { retry: view.retry, text: box.textContent,
               links: [...box.querySelectorAll("a")].map((a) => [a.textContent, a.getAttribute("href")]) };
    }""")
    assert view["retry"] is False
    assert view["text"].startswith("Your Premiere Theater balance is empty")
    assert view["links"] == [["See your Token Balance", "/settings?tab=api-keys#token-balance"],
                             ["Add a BYOK provider", "/settings?tab=api-keys#byok"]]
