"""Scenes in a real browser (user guide, "6. Pick a Model in a Scene" and "10. Common Questions"): characters, a scene, replies streamed from the fake
providers through a Server-Accessible and an End-to-End config, switching model in the AI wing
mid-scene, Stop, Regenerate, Continue, a locked vault, and errors. Waits on the page's own
signals (data-state, data-status), never on fixed sleeps."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from rolecall.crypto import Binding, e2e
from tests.browser.conftest import Server, last_reply, say
from tests.factories import PHRASE, e2e_record
from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.server import VALID_KEY

pytestmark = pytest.mark.browser
PASSWORD = "a stage of one's own"
E2E_KEY = "sk-e2e-private-0123456789abcdefPRIV"
FIRST_REPLY = "Hello there, traveller. The tavern is warm tonight."


@pytest.fixture(scope="module")
def fakes() -> Iterator[SimpleNamespace]:
    servers = SimpleNamespace(router=FakeOpenAI(), private=FakeOpenAI())
    for fake in vars(servers).values():
        fake.start()
    try:
        yield servers
    finally:
        for fake in vars(servers).values():
            fake.stop()


@pytest.fixture(autouse=True)
def fresh_fakes(fakes: SimpleNamespace) -> None:
    for fake in vars(fakes).values():
        fake.reset()
        fake.keys |= {E2E_KEY}


# ---- set-up through the API (what earlier issues' tests already cover in the UI) -----------------

def api(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    base = page.evaluate("location.origin")
    token = page.request.get(base + "/api/csrf").json()["csrf_token"]
    response = page.request.fetch(base + path, method=method, data=body, headers={"X-CSRF-Token": token})
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json() if response.status != 204 else None


class Person(SimpleNamespace):
    page: Page
    account_id: str
    udk: bytes
    errors: list[str]


def sign_up(chromium: Any, server: Server, **context_args: Any) -> Person:
    page = chromium.new_context(**context_args).new_page()
    person = Person(page=page, errors=[])
    page.on("pageerror", lambda exc: person.errors.append(str(exc)))
    page.goto(server.url + "/signup")
    page.get_by_label("Name").fill("scenes-" + uuid.uuid4().hex[:10])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(server.url + "/scenes")
    person.account_id = api(page, "GET", "/api/me")["id"]
    record, person.udk = e2e_record(person.account_id)  # the vault is Active but locked in this browser
    api(page, "POST", "/api/encryption/setup", record)
    return person


def add_server_config(person: Person, label: str, fake: FakeOpenAI) -> str:
    body = {"provider_id": "openai", "base_url": fake.base_url, "api_key": VALID_KEY}
    test = api(person.page, "POST", "/api/provider-configs/test", body)
    assert test["status"] == "valid", test
    saved = api(person.page, "POST", "/api/provider-configs", {**body, "label": label, "privacy_mode": "srv", "test_id": test["test_id"]})
    return str(saved["id"])


def save_untested(person: Person, label: str, fake: FakeOpenAI, **extra: str) -> str:
    body = {"provider_id": "openai", "base_url": fake.base_url, "api_key": VALID_KEY, "label": label, "privacy_mode": "srv", **extra}
    return str(api(person.page, "POST", "/api/provider-configs", body)["id"])


def add_e2e_config(person: Person, label: str, fake: FakeOpenAI) -> str:
    """Sealed the way the browser seals it (the Python reference), then tested to cache its models."""
    where = {"provider_id": "openai", "base_url": fake.base_url}
    origin = api(person.page, "POST", "/api/provider-configs/resolve", where)["dest_origin"]
    config_id = str(uuid.uuid4())
    envelope = e2e.seal_bundle(person.udk, {"api_key": E2E_KEY}, 1, Binding(person.account_id, config_id, "openai", origin))
    api(person.page, "POST", "/api/provider-configs", {**where, "id": config_id, "label": label, "privacy_mode": "e2e", "credential": envelope})
    assert api(person.page, "POST", f"/api/provider-configs/{config_id}/test", {"api_key": E2E_KEY})["status"] == "valid"
    return config_id


def scene_with(person: Person, server: Server, section: str, model_id: str) -> str:
    character = api(person.page, "POST", "/api/characters", {"name": "Mara Vell", "persona": "A lighthouse keeper.", "first_message": "You're late."})
    scene = api(person.page, "POST", "/api/scenes", {"character_ids": [character["id"]]})
    api(person.page, "PATCH", f"/api/scenes/{scene['id']}", {"model": {"section": section, "model_id": model_id}})
    person.page.goto(f"{server.url}/scenes/{scene['id']}")
    expect(person.page.locator("[data-scene]")).to_have_attribute("data-state", "ready")
    return str(scene["id"])


# ---- what a person does on the scene page --------------------------------------------------------

def wait_done(page: Page) -> None:
    expect(page.locator("[data-scene]")).to_have_attribute("data-state", "ready")
    expect(last_reply(page)).to_have_attribute("data-status", "complete")


def pick(page: Page, section: str, model_id: str) -> None:
    page.locator(f'#ai-wing [data-section="{section}"] [data-model="{model_id}"] .model-pick').click()
    header = page.locator('[data-role="current-model"]')
    expect(header).to_have_attribute("data-model-id", model_id)
    expect(header).to_have_attribute("data-model-section", section)


def eventually(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def chats(fake: FakeOpenAI) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith("/chat/completions")]


# ---- tests -------------------------------------------------------------------------------------

def test_character_scene_stream_switch_to_e2e_with_phrase_and_regenerate(
    chromium: Any, loopback_server: Server, fakes: SimpleNamespace,
) -> None:
    person = sign_up(chromium, loopback_server)
    page = person.page
    router = add_server_config(person, "Router", fakes.router)
    private = add_e2e_config(person, "Private", fakes.private)

    # A character, from the Scenes page.
    page.goto(loopback_server.url + "/scenes")
    expect(page.get_by_text("No scenes yet")).to_be_visible()
    page.get_by_role("button", name="+ New character").click()
    dialog = page.get_by_role("dialog", name="New character")
    dialog.get_by_label("Name").fill("Mara Vell")
    dialog.get_by_label("Persona").fill("A weathered lighthouse keeper who speaks in short, dry sentences.")
    dialog.get_by_label("First message").fill("*The lamp turns.* You're late.")
    dialog.get_by_role("button", name="Save character").click()
    expect(dialog).to_be_hidden()
    mara = page.locator(".character").filter(has_text="Mara Vell")
    expect(mara.locator(".avatar")).to_have_text("MV")
    mara.get_by_role("button", name="Start scene with Mara Vell").click()
    page.wait_for_url("**/scenes/*")
    expect(page.locator("[data-scene]")).to_have_attribute("data-state", "ready")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Mara Vell")
    expect(last_reply(page).locator(".msg__body em")).to_have_text("The lamp turns.")  # Markdown, rendered

    # The AI wing: search across sections, pick the Server-Accessible config's Llama.
    wing = page.locator("#ai-wing")
    expect(wing.locator(f'[data-section="{private}"]')).to_be_visible()
    wing.get_by_label("Search models").fill("llama 70b")
    expect(wing.locator(".model-row:visible")).to_have_count(2)  # one per config
    pick(page, router, "meta-llama/llama-3.3-70b-instruct")
    expect(page.locator('[data-role="model-config"]')).to_contain_text("Router")

    # A reply streams in, piece by piece.
    fakes.router.plan.chunk_delay = 0.15
    say(page, "Is the light ever wrong?")
    streaming = page.locator('.msg[data-status="streaming"]')
    expect(streaming).to_contain_text("Hello there")
    wait_done(page)
    expect(last_reply(page)).to_contain_text(FIRST_REPLY)
    assert int(page.locator("[data-scene]").get_attribute("data-deltas") or 0) >= 5
    sent = chats(fakes.router)[-1].json()
    assert sent["model"] == "meta-llama/llama-3.3-70b-instruct" and sent["stream"] is True
    assert sent["messages"][-1] == {"role": "user", "content": "Is the light ever wrong?"}
    assert fakes.router.last.headers["authorization"] == f"Bearer {VALID_KEY}"

    # Mid-scene switch to the End-to-End config: the vault is locked here, so the phrase is asked for.
    wing.get_by_label("Search models").fill("")
    pick(page, private, "gpt-4o-mini")
    expect(page.locator('[data-role="model-config"]')).to_contain_text("end-to-end")
    router_calls = len(chats(fakes.router))
    fakes.private.reply.text = "The light, never. The sailors, often."
    say(page, "And the sailors?")
    expect(page.locator("[data-scene]")).to_have_attribute("data-needs-unlock", "true")
    assert chats(fakes.private) == []  # nothing left without the key
    page.get_by_label("Recovery phrase").fill(PHRASE)
    page.get_by_label("Remember on this device").check()
    page.get_by_role("button", name="Unlock and send").click()
    wait_done(page)
    expect(last_reply(page)).to_contain_text("The sailors, often.")
    upstream = chats(fakes.private)[-1]
    assert upstream.json()["model"] == "gpt-4o-mini"
    assert upstream.headers["authorization"] == f"Bearer {E2E_KEY}"
    assert len(chats(fakes.router)) == router_calls
    assert E2E_KEY not in loopback_server.log()

    # Regenerate keeps the first reply as an alternative to flip back to.
    fakes.private.reply.text = "Sailors read the dark, not the light."
    last_reply(page).get_by_role("button", name="Regenerate this reply").click()
    wait_done(page)
    reply = last_reply(page)
    expect(reply.get_by_label("Reply 2 of 2")).to_be_visible()
    expect(reply).to_contain_text("Sailors read the dark")
    reply.get_by_role("button", name="Previous reply").click()
    expect(last_reply(page).get_by_label("Reply 1 of 2")).to_be_visible()
    expect(last_reply(page)).to_contain_text("The sailors, often.")

    # Continue extends the last reply (the key is still unlocked in this page).
    fakes.private.reply.text = "Always have."
    last_reply(page).get_by_role("button", name="Continue this reply").click()
    wait_done(page)
    expect(last_reply(page)).to_contain_text("The sailors, often.")
    expect(last_reply(page)).to_contain_text("Always have.")

    # Remembered on this device: after a reload the key opens without the phrase, and Settings agrees.
    page.reload()
    expect(page.locator("[data-scene]")).to_have_attribute("data-state", "ready")
    fakes.private.reply.text = "Every night."
    say(page, "Every night?")
    wait_done(page)
    expect(last_reply(page)).to_contain_text("Every night.")
    expect(page.locator("[data-scene]")).not_to_have_attribute("data-needs-unlock", "true")
    assert chats(fakes.private)[-1].headers["authorization"] == f"Bearer {E2E_KEY}"
    page.goto(loopback_server.url + "/settings?tab=api-keys")
    expect(page.get_by_text("Unlocked on this device.")).to_be_visible()

    # The scene list shows it with its last activity.
    page.goto(loopback_server.url + "/scenes")
    card = page.locator(".scene-card").filter(has_text="Mara Vell")
    expect(card.locator("time")).to_be_visible()
    expect(card).to_contain_text("Every night.")  # the last line, as a preview

    # Editing a character: the form opens with what was saved, and the list shows the change.
    page.get_by_role("button", name="Edit Mara Vell").click()
    dialog = page.get_by_role("dialog", name="Edit Mara Vell")
    expect(dialog.get_by_label("Persona")).to_have_value("A weathered lighthouse keeper who speaks in short, dry sentences.")
    dialog.get_by_label("Name").fill("Captain Mara")
    expect(dialog.locator('[data-role="preview"]')).to_have_text("CM")
    dialog.get_by_role("button", name="Save character").click()
    expect(page.locator(".character").filter(has_text="Captain Mara").locator(".avatar")).to_have_text("CM")
    assert person.errors == []


def test_stop_reload_edit_delete_errors_and_retry(chromium: Any, loopback_server: Server, fakes: SimpleNamespace) -> None:
    person = sign_up(chromium, loopback_server)
    page = person.page
    router = add_server_config(person, "Router", fakes.router)
    scene_with(person, loopback_server, router, "gpt-4o-mini")

    # Stop: the fetch is aborted, the server cancels the upstream call, the partial is kept.
    fakes.router.reply.text = " ".join(f"word{i}" for i in range(60))
    fakes.router.plan.chunk_delay = 0.3
    say(page, "Tell me a long story.")
    expect(page.locator('.msg[data-status="streaming"]')).to_contain_text("word2")
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("[data-scene]")).to_have_attribute("data-state", "ready")
    eventually(lambda: fakes.router.streams_abandoned >= 1, "the fake to see the connection close")
    expect(last_reply(page)).to_have_attribute("data-status", "interrupted")
    expect(last_reply(page).get_by_text("interrupted", exact=True)).to_be_visible()

    # Reloading mid-stream shows what the server committed.
    say(page, "Another one.")
    expect(page.locator('.msg[data-status="streaming"]')).to_contain_text("word2")
    page.reload()
    kept = last_reply(page)
    expect(kept).to_have_attribute("data-status", "interrupted")
    expect(kept).to_contain_text("word1")
    eventually(lambda: fakes.router.streams_abandoned >= 2, "the second stream to be cancelled")

    # Edit and delete.
    fakes.router.plan.chunk_delay = 0
    kept.get_by_role("button", name="Edit this reply").click()
    kept.get_by_label("Edit message").fill("Once upon a tide.")
    kept.get_by_role("button", name="Save").click()
    expect(last_reply(page)).to_contain_text("Once upon a tide.")
    page.reload()
    expect(last_reply(page)).to_contain_text("Once upon a tide.")
    page.once("dialog", lambda d: d.accept())
    last_reply(page).get_by_role("button", name="Delete this reply").click()
    expect(page.locator(".msg").filter(has_text="Once upon a tide.")).to_have_count(0)

    # The provider drops the stream mid-reply: the partial text stays, marked interrupted, with the error.
    fakes.router.reply.text = FIRST_REPLY
    fakes.router.plan.break_after = 4
    say(page, "Are you listening?")
    error = page.locator('[data-role="error"]')
    expect(error).to_be_visible()
    expect(last_reply(page)).to_have_attribute("data-status", "interrupted")
    expect(last_reply(page)).to_contain_text("Hello there")
    expect(last_reply(page).get_by_text("interrupted", exact=True)).to_be_visible()
    fakes.router.plan.break_after = None

    # A rate limit says so and offers Retry; Retry sends once more without a duplicate message.
    fakes.router.fail_next(429, path="/chat/completions")
    say(page, "Still there?")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("data-kind", "rate_limited")
    error.get_by_role("button", name="Retry").click()
    wait_done(page)
    expect(last_reply(page)).to_contain_text(FIRST_REPLY)
    expect(page.locator('.msg[data-role="user"]').filter(has_text="Still there?")).to_have_count(1)
    expect(error).to_be_hidden()

    # An auth error: the headline, a link to the config, and the config is marked Invalid.
    fakes.router.keys = set()
    say(page, "Hello?")
    expect(error).to_contain_text("The key was rejected")
    expect(error.get_by_role("link", name="Open the config in Settings")).to_have_attribute("href", f"/settings?tab=api-keys#provider-{router}")
    expect(page.locator(f'#ai-wing [data-section="{router}"] .section-invalid')).to_be_visible()
    # After fixing the key, the unanswered line can get its reply without being sent twice.
    fakes.router.keys = {VALID_KEY}
    page.locator('.msg[data-role="user"]').last.get_by_role("button", name="Get a reply to this message").click()
    wait_done(page)
    expect(page.locator('.msg[data-role="user"]').filter(has_text="Hello?")).to_have_count(1)
    assert chats(fakes.router)[-1].json()["messages"][-1] == {"role": "user", "content": "Hello?"}
    page.goto(loopback_server.url + "/settings?tab=api-keys")
    expect(page.locator(f"#provider-{router}").get_by_text("Invalid", exact=True)).to_be_visible()
    assert person.errors == []


def test_phone_layout_wing_is_a_drawer(chromium: Any, loopback_server: Server, fakes: SimpleNamespace, tmp_path: Any) -> None:
    person = sign_up(chromium, loopback_server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = person.page
    router = add_server_config(person, "Router", fakes.router)
    spare = save_untested(person, "Spare", fakes.private)
    pinned = add_server_config(person, "Pinned", fakes.private)
    api(page, "PATCH", f"/api/provider-configs/{pinned}", {"model": "llama-3.1-8b-instant"})
    scene_with(person, loopback_server, router, "gpt-4o-mini")
    wing = page.locator("#ai-wing")
    expect(wing).to_be_hidden()
    toggle = page.get_by_role("button", name="AI wing", exact=True)
    toggle.click()
    expect(wing).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(wing.get_by_label("Search models")).to_be_focused()
    untested = wing.locator(f'[data-section="{spare}"]')
    expect(untested).to_contain_text("Test Key to load models")
    expect(untested.get_by_role("link", name="Settings → API Keys")).to_have_attribute("href", f"/settings?tab=api-keys#provider-{spare}")
    expect(wing.locator(f'[data-section="{pinned}"] .model-row')).to_have_count(1)  # a pinned config is its one model
    expect(wing.locator(f'[data-section="{pinned}"] [data-model="llama-3.1-8b-instant"]')).to_be_visible()
    pick(page, router, "llama-3.1-8b-instant")
    expect(wing).to_be_hidden()  # picking closes the drawer
    expect(toggle).to_be_focused()
    toggle.click()
    expect(wing).to_be_visible()
    page.keyboard.press("Escape")
    expect(wing).to_be_hidden()
    expect(toggle).to_be_focused()
    box = page.get_by_label("Your message", exact=True)
    box.press_sequentially("Short")
    box.press("Shift+Enter")  # a new line, not a send
    box.press_sequentially("answer?")
    box.press("Enter")
    wait_done(page)
    sent = chats(fakes.router)[-1].json()
    assert sent["model"] == "llama-3.1-8b-instant"
    assert sent["messages"][-1]["content"] == "Short\nanswer?"
    expect(page.locator('.msg[data-role="user"] .msg__body br')).to_have_count(1)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"
    assert person.errors == []
