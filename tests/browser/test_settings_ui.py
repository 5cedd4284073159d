"""Settings → API Keys and the Cast page as a person checks them on a desktop and a phone: the Add
Provider modal keeps what was typed, says where requests go, fits the screen; errors read once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    Server,
    add_tested_config,
    encryption_set_up_by_api,
    set_up_encryption,
    settled,
    sign_up,
)
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401

pytestmark = pytest.mark.browser
KEY = "sk-pasted-0123456789abcdefghijKLMN"
HONEST = re.compile(r"browser hands the\s+decrypted key to the server for that one request")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
counter = iter(range(10_000))


def new_page(chromium: Any, server: Server, viewport: dict[str, int] = DESKTOP) -> Page:
    phone = viewport == PHONE
    page = chromium.new_context(viewport=viewport, is_mobile=phone, has_touch=phone).new_page()
    sign_up(page, server, f"ui-{next(counter)}")
    return page


@pytest.fixture
def page(chromium: Any, loopback_server: Server) -> Iterator[Page]:
    """A signed-up person with an Active key record, on Settings → API Keys."""
    someone = new_page(chromium, loopback_server)
    encryption_set_up_by_api(someone)
    someone.goto(loopback_server.url + "/settings?tab=api-keys")
    settled(someone, "[data-byok-providers]")
    yield someone
    someone.context.close()


def open_add(page: Page) -> Locator:
    page.get_by_role("button", name="+ Add Provider").click()
    dialog = page.get_by_role("dialog", name="Add Provider")
    expect(dialog).to_be_visible()
    return dialog


def choose(dialog: Locator, provider: str, mode: str = "Server-Accessible") -> None:
    dialog.get_by_label(mode).check()
    dialog.get_by_label("Provider", exact=True).select_option(label=provider)


def open_advanced(dialog: Locator) -> None:
    if dialog.locator("details.advanced[open]").count() == 0:
        dialog.locator("summary", has_text="Advanced").click()


def test_closing_a_typed_in_form_asks_first(page: Page) -> None:
    # Nothing typed: Esc just closes.
    dialog = open_add(page)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    dialog = open_add(page)
    choose(dialog, "OpenAI")
    dialog.get_by_label("API Key").fill(KEY)
    ask = page.get_by_role("dialog", name="Discard what you typed?")
    for close in (lambda: page.keyboard.press("Escape"),
                  lambda: dialog.get_by_role("button", name="Close").click(),
                  lambda: dialog.get_by_role("button", name="Cancel").click()):
        close()
        expect(ask).to_be_visible()
        expect(ask).to_contain_text("including a pasted key")
        ask.get_by_role("button", name="Keep editing").click()
        expect(ask).to_be_hidden()
        expect(dialog).to_be_visible()
        expect(dialog.get_by_label("API Key")).to_have_value(KEY)

    dialog.get_by_role("button", name="Cancel").click()
    ask.get_by_role("button", name="Discard").click()
    expect(dialog).to_be_hidden()
    dialog = open_add(page)
    expect(dialog.get_by_label("Provider", exact=True)).to_be_disabled()  # a fresh form
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_base_url_hint_follows_the_form_and_cards_show_the_endpoint(page: Page) -> None:
    dialog = open_add(page)
    hint = dialog.locator('[data-role="base-hint"]')
    choose(dialog, "Azure OpenAI")
    expect(hint).to_have_text("Base URL: https://<Resource Name>.openai.azure.com/openai")
    dialog.get_by_label("Resource Name").fill("my-res")
    expect(hint).to_have_text("Base URL: https://my-res.openai.azure.com/openai")

    dialog.get_by_label("Provider", exact=True).select_option(label="NanoGPT")
    expect(hint).to_have_text("Base URL: https://nano-gpt.com/api/v1")
    open_advanced(dialog)
    dialog.get_by_label("Endpoint Type").select_option(label="Subscription")
    expect(hint).to_have_text("Base URL: https://nano-gpt.com/api/subscription/v1")

    dialog.get_by_label("Provider", exact=True).select_option(label="OpenAI")
    expect(hint).to_have_text("Base URL: https://api.openai.com/v1")
    open_advanced(dialog)
    dialog.get_by_label("Custom Base URL").fill("https://llm.example.com/v1")
    expect(hint).to_have_text("Base URL: https://llm.example.com/v1")
    dialog.get_by_label("Label", exact=True).fill("Own gateway")
    dialog.get_by_label("API Key").fill(KEY)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    card = page.get_by_role("article", name="Own gateway")
    expect(card.locator("dt:text-is('Endpoint') + dd")).to_have_text("https://llm.example.com/v1")


def test_blocked_destination_is_said_once(page: Page) -> None:
    dialog = open_add(page)
    choose(dialog, "OpenAI")
    dialog.get_by_label("Label", exact=True).fill("Blocked")
    dialog.get_by_label("API Key").fill(KEY)
    open_advanced(dialog)
    dialog.get_by_label("Custom Base URL").fill("http://0.0.0.0:9/v1")  # refused before any connection
    dialog.get_by_role("button", name="Test", exact=True).click()
    result = dialog.locator(".test-result")
    expect(result.locator(".pill")).to_have_text("Invalid")
    expect(result).to_contain_text("Destination not allowed")
    assert result.inner_text().count("Destination not allowed") == 1, result.inner_text()
    # Saving it is refused, with the same words once, under Base URL (a card's stored detail reads
    # once too: tests/services/test_key_check_detail.py).
    dialog.get_by_role("button", name="Save").click()
    field_error = dialog.locator('[data-field="base_url"] .field-error')
    expect(field_error).to_contain_text("Destination not allowed")
    assert field_error.inner_text().count("Destination not allowed") == 1, field_error.inner_text()


def test_labels_over_80_characters_are_not_cut_silently(page: Page) -> None:
    dialog = open_add(page)
    choose(dialog, "OpenAI")
    label = dialog.get_by_label("Label", exact=True)
    label.fill("L" * 95)
    expect(label).to_have_value("L" * 95)  # nothing cut off behind the person's back
    expect(dialog.get_by_text("Labels can be at most 80 characters; this one has 95.")).to_be_visible()
    expect(dialog.get_by_text("95/80")).to_be_visible()
    label.fill("L" * 80)
    expect(dialog.get_by_text("80/80")).to_be_visible()
    expect(dialog.get_by_text(re.compile("Labels can be at most"))).to_be_hidden()


def test_a_host_header_says_to_change_the_base_url(page: Page) -> None:
    dialog = open_add(page)
    choose(dialog, "OpenAI", mode="End-to-End Encryption")
    dialog.get_by_label("Label", exact=True).fill("Hosty")
    dialog.get_by_label("API Key").fill(KEY)
    open_advanced(dialog)
    dialog.get_by_label("Custom Headers").fill("Host: other.example.com")
    dialog.get_by_role("button", name="Test", exact=True).click()  # the server's check
    expect(dialog.get_by_role("alert").filter(has_text="Host")).to_contain_text("change the Base URL instead")
    expect(dialog.get_by_text(re.compile("Organization ID field"))).to_have_count(0)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_privacy_modes_are_short_and_provider_and_label_stay_in_view(
        chromium: Any, loopback_server: Server, viewport: dict[str, int]) -> None:
    page = new_page(chromium, loopback_server, viewport)
    encryption_set_up_by_api(page)
    page.goto(loopback_server.url + "/settings?tab=api-keys")
    settled(page, "[data-byok-providers]")
    dialog = open_add(page)
    title = dialog.get_by_role("heading", name="Add Provider")
    assert title.evaluate("(h) => h.getBoundingClientRect().height < 1.5 * parseFloat(getComputedStyle(h).lineHeight)")
    dialog.get_by_label("End-to-End Encryption").check()
    actions_top = dialog.locator(".actions").first.bounding_box()["y"]
    for field in (dialog.get_by_label("Provider", exact=True), dialog.get_by_label("Label", exact=True)):
        box = field.bounding_box()
        assert box is not None and box["y"] + box["height"] <= min(actions_top, viewport["height"]), (box, actions_top)
    # The whole trade-off is one click away, word for word honest.
    more = dialog.get_by_text("More about end-to-end")
    expect(dialog.get_by_text(HONEST)).to_be_hidden()
    more.click()
    expect(dialog.get_by_text(HONEST)).to_be_visible()
    page.context.close()


def test_cast_marks_the_pinned_model_and_counts_in_words(chromium: Any, loopback_server: Server,
                                                        fake_openai: Any) -> None:
    page = new_page(chromium, loopback_server, PHONE)
    encryption_set_up_by_api(page)
    long_label = "Router fallback for the long winter evenings at the lighthouse keeper's table"
    add_tested_config(page, long_label, "openrouter", fake_openai.base_url, model="deepseek/deepseek-r1:free")
    page.goto(loopback_server.url + "/models")
    settled(page, "#catalog-sections")
    section = page.locator("[data-section]").filter(has_text=long_label)
    pinned = section.locator('[data-model="deepseek/deepseek-r1:free"]')
    expect(pinned.get_by_text("Pinned", exact=True)).to_be_visible()
    expect(section.get_by_text("Pinned", exact=True)).to_have_count(1)

    # On a phone, a long label wraps beside the caret; the caret keeps its line.
    caret, heading = section.locator(".caret").bounding_box(), section.locator("summary h2").bounding_box()
    line = section.locator("summary h2").evaluate("(h) => parseFloat(getComputedStyle(h).lineHeight)")
    assert caret is not None and heading is not None
    assert heading["height"] > 1.5 * line  # the label does wrap here
    assert heading["y"] <= caret["y"] + caret["height"] / 2 <= heading["y"] + line, (caret, heading)  # its first line

    page.get_by_label("Search models").fill("deepseek-r1:free")
    expect(page.locator("#catalog-status")).to_have_text("1 model matches “deepseek-r1:free”.")
    page.context.close()


def test_setup_notice_goes_once_a_provider_exists(chromium: Any, loopback_server: Server) -> None:
    page = new_page(chromium, loopback_server)
    page.goto(loopback_server.url + "/settings?tab=api-keys")
    set_up_encryption(page)
    notice = page.get_by_text("Encryption is active. You can now add provider keys below.")
    expect(notice).to_be_visible()
    dialog = open_add(page)
    choose(dialog, "OpenAI")
    dialog.get_by_label("Label", exact=True).fill("First")
    dialog.get_by_label("API Key").fill(KEY)
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("article", name="First")).to_be_visible()
    expect(notice).to_be_hidden()
    page.context.close()
