"""Every page, in every state a person reaches, has no axe-core violations on a desktop
(1280x800) and a phone (390x844) viewport; plus what axe cannot judge: the Settings navigation works
from the keyboard and the current tab is marked by more than colour."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    add_tested_config,
    settled,
    show_new_words,
    sign_up,
)
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401

pytestmark = pytest.mark.browser
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def axe_violations(page: Page, axe_script: Path) -> list[str]:
    """Run axe-core (all rules of its default set) on the page as it is now; one line per problem."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(axe_script))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['impact']} {v['id']}: {v['help']} at {json.dumps([n['target'] for n in v['nodes']][:4])}" for v in result]


class Walk:
    """Collects the violations of each state a person passes through."""

    def __init__(self, page: Page, axe_script: Path, viewport: str) -> None:
        self.page, self.axe_script, self.viewport = page, axe_script, viewport
        self.found: dict[str, list[str]] = {}

    def check(self, state: str) -> None:
        problems = axe_violations(self.page, self.axe_script)
        if problems:
            self.found[f"{self.viewport} {state}"] = problems


@pytest.fixture(params=list(VIEWPORTS))
def walk(request: pytest.FixtureRequest, chromium: Any, axe_script: Path) -> Iterator[Walk]:
    is_phone = request.param == "phone"
    # bypass_csp: our CSP (rightly) refuses the inline script tag that carries axe-core.
    context = chromium.new_context(viewport=VIEWPORTS[request.param], is_mobile=is_phone, has_touch=is_phone,
                                   bypass_csp=True)
    yield Walk(context.new_page(), axe_script, request.param)
    context.close()


def test_no_axe_violations_on_any_page(walk: Walk, loopback_server: Any, fake_openai: Any) -> None:
    page, url = walk.page, loopback_server.url
    for path in ("/", "/login", "/signup", "/no-such-page"):
        page.goto(url + path)
        walk.check(path)

    sign_up(page, loopback_server, f"axe-{walk.viewport}")
    walk.check("/scenes (empty)")
    page.goto(url + "/settings")
    walk.check("/settings")
    page.goto(url + "/settings?tab=access-tokens")
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    walk.check("Access Tokens (none yet)")
    page.get_by_label("Name").fill("axe")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("row", name=re.compile("axe"))).to_be_visible()
    walk.check("Access Tokens (a new token shown once, and the list)")
    page.goto(url + "/models")
    expect(page.get_by_text("No providers connected")).to_be_visible()
    walk.check("/models (no providers)")

    page.goto(url + "/settings?tab=api-keys")
    settled(page, "#encryption")
    walk.check("API Keys (encryption not set up)")
    words = show_new_words(page)
    walk.check("API Keys (the 12 words)")
    page.get_by_label("I have written down all 12 words").check()
    page.get_by_role("button", name="Continue").click()
    walk.check("API Keys (type-back)")
    for i, word in enumerate(words):
        page.get_by_label(f"Word {i + 1}", exact=True).fill(word)
    page.get_by_role("button", name="Confirm").click()
    assert settled(page, "#encryption") == "unlocked"
    walk.check("API Keys (unlocked, no providers)")

    page.get_by_role("button", name="+ Add Provider").click()
    dialog = page.get_by_role("dialog", name="Add Provider")
    walk.check("Add Provider (mode first)")
    dialog.get_by_label("Server-Accessible").check()
    dialog.get_by_label("Provider", exact=True).select_option(label="Azure OpenAI")
    dialog.get_by_label("Label", exact=True).fill("Azure")
    dialog.locator("summary", has_text="Advanced").click()
    walk.check("Add Provider (Azure, advanced open)")
    dialog.get_by_role("button", name="Cancel").click()
    walk.check("Discard what you typed?")
    page.get_by_role("button", name="Discard").click()

    add_tested_config(page, "Router fallback", "openrouter", fake_openai.base_url)
    page.reload()
    settled(page, "[data-byok-providers]")
    expect(page.get_by_role("article", name="Router fallback")).to_be_visible()
    walk.check("API Keys (a provider card)")
    page.goto(url + "/models")
    expect(page.locator(".model-row").first).to_be_visible()
    walk.check("/models (a provider)")
    page.get_by_label("Search models").fill("llama")
    walk.check("/models (searching)")

    assert not walk.found, "\n".join(f"{state}:\n  " + "\n  ".join(p) for state, p in walk.found.items())


def test_settings_navigation_by_keyboard_and_not_by_colour_alone(server: Any, chromium: Any) -> None:
    context = chromium.new_context()
    page = context.new_page()
    sign_up(page, server, "keyboarder")
    page.goto(server.url + "/settings")
    nav = page.get_by_role("navigation", name="Settings")
    current = nav.get_by_role("link", name="Account")
    expect(current).to_have_attribute("aria-current", "page")
    # The current tab differs from the others in weight and an underline, not only in colour.
    look = """(a) => { const s = getComputedStyle(a); return [s.fontWeight, s.borderBottomColor, s.borderBottomStyle]; }"""
    other = nav.get_by_role("link", name="API Keys")
    assert current.evaluate(look) != other.evaluate(look)
    assert current.evaluate("(a) => getComputedStyle(a).fontWeight") != other.evaluate("(a) => getComputedStyle(a).fontWeight")

    # Arrow keys move between the Settings links; Enter follows one.
    current.focus()
    page.keyboard.press("ArrowRight")
    expect(other).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(current).to_be_focused()
    page.keyboard.press("End")
    expect(nav.get_by_role("link").last).to_be_focused()
    page.keyboard.press("Home")
    expect(current).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(page).to_have_url(server.url + "/settings?tab=api-keys")
    expect(nav.get_by_role("link", name="API Keys")).to_have_attribute("aria-current", "page")
    context.close()


def test_logged_out_sign_up_button_is_readable(server: Any, chromium: Any) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.goto(server.url + "/login")
    button = page.get_by_role("banner").get_by_role("link", name="Sign up")
    colours = button.evaluate("""(a) => {
        const s = getComputedStyle(a);
        return {text: s.color, background: s.backgroundColor};
    }""")
    assert colours["background"] not in ("rgba(0, 0, 0, 0)", "transparent"), colours
    assert contrast(colours["text"], colours["background"]) >= 4.5, colours
    context.close()


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two opaque `rgb(r, g, b)` colours."""
    def luminance(css: str) -> float:
        parts = [float(x) / 255 for x in css[css.index("(") + 1:css.index(")")].split(",")[:3]]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in parts]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)
