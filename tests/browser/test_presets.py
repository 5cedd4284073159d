"""The preset editor in a real browser: samplers, and an API Options chain picked, reordered and saved."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, add_tested_config, api_call, encryption_set_up_by_api, sign_up, start_server
from tests.fakes.fixtures import _anthropic_server, _openai_server, fake_anthropic, fake_openai  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def premiere_server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory, postgres_url, ROLECALL_NETWORK__ALLOW_PRIVATE='["127.0.0.0/8"]',
        ROLECALL_PREMIERE__UPSTREAMS=json.dumps([{"id": "house", "provider": "openrouter", "api_key_env": "HOUSE_KEY"}]),
        ROLECALL_PREMIERE__MODELS=json.dumps([{"id": "house-llama", "upstream": "house", "name": "House Llama"}]),
    )
    yield srv
    srv.stop()


def _pick(page: Page, query: str, model: str, section: str) -> None:
    """Click a model row of the picker (its name reads "Use <model> <id> from <section>")."""
    page.get_by_label("Search models to add").fill(query)
    page.get_by_role("button", name=re.compile(rf"^Use {re.escape(model)} .* from {re.escape(section)}$")).click()


def test_build_reorder_and_save_a_fallback_chain(premiere_server: Any, chromium: Any, fake_openai, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    page = chromium.new_context().new_page()
    sign_up(page, premiere_server, "director")
    encryption_set_up_by_api(page)
    add_tested_config(page, "Anthropic personal", "anthropic", fake_anthropic.base_url)
    add_tested_config(page, "OpenRouter fallback", "openrouter", fake_openai.base_url)

    page.goto(premiere_server.url + "/settings")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Presets").click()
    expect(page).to_have_url(premiere_server.url + "/presets")
    page.get_by_role("button", name="+ New preset").click()
    page.get_by_label("Name").fill("Claude first")
    page.get_by_label("Temperature").fill("0.85")
    page.get_by_label("Stop sequences (one per line)").fill("###")
    page.get_by_label("System prompt template").fill("You are {{char}}.")

    page.get_by_role("button", name="+ Add a model").click()
    _pick(page, "haiku", "Claude Haiku 4.5", "Anthropic personal")
    _pick(page, "llama 3.3", "Meta: Llama 3.3 70B Instruct", "OpenRouter fallback")
    _pick(page, "house", "House Llama", "Premiere Theater")
    slots = page.locator("#slot-list .slot")
    expect(slots).to_have_count(3)
    expect(slots.nth(0)).to_contain_text("Primary")
    expect(slots.nth(2)).to_contain_text("Premiere Theater")

    page.get_by_role("button", name="Move up Fallback 2: house-llama").click()  # Premiere before OpenRouter
    page.get_by_role("button", name="Remove Primary: claude-haiku-4-5-20251001").click()
    expect(slots).to_have_count(2)
    page.get_by_role("button", name="Save preset").click()
    expect(page.get_by_role("status").filter(has_text="Saved “Claude first”.")).to_be_visible()

    saved = api_call(page, "GET", "/api/presets")["presets"][0]
    assert saved["settings"] == {"temperature": 0.85, "stop": ["###"]} and saved["system_prompt"] == "You are {{char}}."
    assert [(s["label"], s["model_id"]) for s in saved["slots"]] == [
        ("Premiere Theater", "house-llama"), ("OpenRouter fallback", "meta-llama/llama-3.3-70b-instruct")]

    page.reload()
    expect(page.locator("#slot-list .slot").nth(0)).to_contain_text("house-llama")
    expect(page.locator("#slot-list .slot").nth(1)).to_contain_text("Fallback 1")
    expect(page.get_by_label("Temperature")).to_have_value("0.85")
