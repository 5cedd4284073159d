"""A group scene in a real browser (docs/group-scenes.md): two characters ticked on /scenes, one
message from the person, and both characters answering on their own through a Server-Accessible
fake, live; then Stop; no axe-core violations on the way. Waits on the page's own signals."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    Server,
    add_e2e_config,
    add_tested_config,
    api_call,
    encryption_set_up_by_api,
    say,
    sign_up,
)
from tests.browser.test_accessibility import axe_violations
from tests.factories import PHRASE
from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.server import VALID_KEY

pytestmark = pytest.mark.browser


@pytest.fixture
def signed_in(chromium: Any, loopback_server: Server, fake: FakeOpenAI) -> Iterator[tuple[Page, bytes]]:
    """A page signed in to a new account with encryption Active (locked in this browser), and its UDK."""
    fake.reset()
    context = chromium.new_context(bypass_csp=True)  # axe-core arrives as an inline script
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, loopback_server, "group-" + uuid.uuid4().hex[:8])
    udk = encryption_set_up_by_api(page)
    yield page, udk
    context.close()
    assert not errors, errors


@pytest.fixture
def page(signed_in: tuple[Page, bytes]) -> Page:
    return signed_in[0]


def _cast(page: Page) -> None:
    for name in ("Ada", "Bram"):
        api_call(page, "POST", "/api/characters", {"name": name, "persona": f"{name} keeps the tavern."})


def test_two_characters_answer_one_message_on_their_own(page: Page, loopback_server: Server, fake: FakeOpenAI,
                                                        axe_script: Path) -> None:
    config = add_tested_config(page, "Router (group-safe)", "openrouter", fake.base_url)
    _cast(page)
    page.goto(loopback_server.url + "/scenes")
    start = page.get_by_role("group", name="Start a group scene")
    start.get_by_label("Ada").check()
    start.get_by_label("Bram").check()
    assert axe_violations(page, axe_script) == []
    page.get_by_role("button", name="Start group scene").click()
    expect(page).to_have_url(re.compile(r"/scenes/\w+$"))
    scene_id = page.url.rsplit("/", 1)[1]
    api_call(page, "PATCH", f"/api/scenes/{scene_id}", {"model": {"section": config["id"], "model_id": "gpt-4o-mini"}})
    page.reload()
    panel = page.locator('[data-role="group"]')
    expect(panel).to_have_attribute("data-mode", "group")
    expect(page.get_by_role("status").filter(has_text="Up to 3 turns")).to_be_visible()
    page.get_by_label("Turn limit").fill("2")
    page.get_by_label("Turn limit").dispatch_event("change")
    expect(page.get_by_role("status").filter(has_text="Up to 2 turns")).to_be_visible()
    assert axe_violations(page, axe_script) == []

    fake.reply.text = "Another round, then."
    page.get_by_role("textbox", name="Your message").fill("Evening, both of you.")
    page.get_by_role("textbox", name="Your message").press("Enter")
    replies = page.locator('[data-role="messages"] > li[data-status="complete"]')
    expect(replies).to_have_count(3)  # the person's message and one turn each
    expect(page.get_by_role("status").filter(has_text="turn limit was reached")).to_be_visible()
    expect(replies.nth(1)).to_contain_text("Ada")
    expect(replies.nth(2)).to_contain_text("Bram")
    expect(replies.nth(2)).to_contain_text("Another round, then.")
    page.locator(".group-jobs summary").click()
    expect(page.locator('[data-role="group-jobs"] li[data-status="done"]')).to_have_count(2)
    assert axe_violations(page, axe_script) == []

    # A slow turn, watched live, then stopped.
    fake.reply.text = " ".join(f"word{i}" for i in range(60))
    fake.plan.chunk_delay = 0.1
    page.get_by_role("textbox", name="Your message").fill("Tell me everything.")
    page.get_by_role("textbox", name="Your message").press("Enter")
    live = page.locator('[data-role="group-live"]')
    expect(live).to_be_visible()
    expect(live).to_contain_text("word3")
    assert axe_violations(page, axe_script) == []
    page.get_by_role("button", name="Stop turns").click()
    expect(page.get_by_role("status").filter(has_text="Stopped.")).to_be_visible()
    expect(page.locator('[data-role="messages"] > li[data-status="interrupted"]')).to_have_count(1)
    expect(panel).to_have_attribute("data-running", "false")


def _group_scene(page: Page, server: Server, model_section: str, turn_limit: int = 2) -> str:
    _cast(page)
    characters = {c["name"]: c["id"] for c in api_call(page, "GET", "/api/characters")["characters"]}
    scene = api_call(page, "POST", "/api/scenes", {"character_ids": [characters["Ada"], characters["Bram"]]})
    api_call(page, "PATCH", f"/api/scenes/{scene['id']}", {"model": {"section": model_section, "model_id": "gpt-4o-mini"}})
    api_call(page, "PATCH", f"/api/scenes/{scene['id']}/group", {"turn_limit": turn_limit})
    page.goto(f"{server.url}/scenes/{scene['id']}")
    expect(page.locator('[data-role="group"]')).to_have_attribute("data-mode", "group")
    return str(scene["id"])


def test_the_e2e_notice_links_to_the_add_provider_dialog(signed_in: tuple[Page, bytes], loopback_server: Server,
                                                         fake: FakeOpenAI) -> None:
    page, udk = signed_in
    private = add_e2e_config(page, udk, "Private", "openrouter", fake.base_url, VALID_KEY)
    _group_scene(page, loopback_server, private, turn_limit=1)
    say(page, "Anyone awake?")
    notice = page.locator('[data-role="group-notices"]')
    expect(notice).to_contain_text("Ada's model uses an end-to-end encrypted key")
    notice.get_by_role("link", name="Add a Server-Accessible config").click()
    dialog = page.get_by_role("dialog", name="Add Provider")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("radio", name="Server-Accessible")).to_be_checked()
    expect(page).to_have_url(re.compile(r"/settings\?tab=api-keys$"))  # a reload does not open it again


def test_regenerating_a_characters_reply_hands_over_its_own_e2e_key(signed_in: tuple[Page, bytes], loopback_server: Server,
                                                                    fake: FakeOpenAI) -> None:
    page, udk = signed_in
    shared = add_tested_config(page, "Router (group-safe)", "openrouter", fake.base_url)
    private = add_e2e_config(page, udk, "Private", "openrouter", fake.base_url, VALID_KEY)
    api_call(page, "POST", "/api/presets", {"name": "Plain", "is_default": True})
    own = api_call(page, "POST", "/api/presets", {"name": "Bram's own", "slots": [{"section": private, "model_id": "gpt-4o"}]})
    scene_id = _group_scene(page, loopback_server, shared["id"])
    fake.reply.text = "Another round, then."
    say(page, "Evening, both of you.")
    replies = page.locator('[data-role="messages"] > li[data-status="complete"]')
    expect(replies).to_have_count(3)
    expect(page.locator('[data-role="group"]')).to_have_attribute("data-running", "false")
    bram = api_call(page, "GET", f"/api/scenes/{scene_id}/group")["cast"][1]["id"]
    api_call(page, "PATCH", f"/api/scenes/{scene_id}/cast/{bram}", {"preset_id": own["id"]})
    page.reload()
    expect(replies).to_have_count(3)

    # Bram's reply is regenerated by Bram, through his own chain: its End-to-End key is opened here.
    fake.reply.text = "Sung by Bram."
    replies.nth(2).get_by_role("button", name="Regenerate this reply").click()
    expect(page.locator("[data-scene]")).to_have_attribute("data-needs-unlock", "true")
    page.get_by_label("Recovery phrase").fill(PHRASE)
    page.get_by_role("button", name="Unlock and send").click()
    reply = page.locator('[data-role="messages"] > li').nth(2)
    expect(reply.get_by_label("Reply 2 of 2")).to_be_visible()
    expect(reply).to_contain_text("Sung by Bram.")
    sent = [r for r in fake.requests if r.path.endswith("/chat/completions")][-1]
    assert sent.json()["model"] == "gpt-4o" and sent.headers["authorization"] == f"Bearer {VALID_KEY}"
    assert VALID_KEY not in loopback_server.log()


def test_ticks_survive_a_new_character_made_on_the_page(page: Page, loopback_server: Server) -> None:
    # The group form is drawn again whenever the page's character list changes (its own first load
    # included): what the person ticked must stay ticked, and the button must follow.
    _cast(page)
    page.goto(loopback_server.url + "/scenes")
    start = page.get_by_role("group", name="Start a group scene")
    start.get_by_label("Ada").check()
    start.get_by_label("Bram").check()
    expect(page.get_by_role("button", name="Start group scene")).to_be_enabled()
    page.get_by_role("button", name="+ New character").click()
    dialog = page.get_by_role("dialog", name="New character")
    dialog.get_by_label("Name").fill("Cora")
    dialog.get_by_label("Persona").fill("Cora mends the nets.")
    dialog.get_by_role("button", name="Save character").click()
    expect(start.get_by_label("Cora")).to_be_visible()
    expect(start.get_by_label("Ada")).to_be_checked()
    expect(start.get_by_label("Bram")).to_be_checked()
    expect(page.get_by_role("button", name="Start group scene")).to_be_enabled()
