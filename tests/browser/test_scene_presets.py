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
    add_tested_config,
    api_call,
    encryption_set_up_by_api,
    last_reply,
    page_says,
    running_fakes,
    sign_up,
    start_server,
)
from tests.browser.test_accessibility import axe_violations
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
    problems = axe_violations(page, axe_script)
    assert not problems, problems

    page.reload()
    expect(page.locator('[data-role="scene-preset"]')).to_have_attribute("data-state", "ready")
    expect(page.get_by_label("Preset", exact=True).locator("option:checked")).to_have_text("Claude first")

    # Back to the default.
    page.get_by_label("Preset", exact=True).select_option("")
    expect(page.locator('[data-role="live"]')).to_contain_text("the preset Everyday")
    assert api_call(page, "GET", f"/api/scene-presets/{scene_id}")["chosen"] is False
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
