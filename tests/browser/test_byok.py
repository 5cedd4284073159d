"""BYOK providers in a real browser (docs/user-guide.md, "3. Click + Add Provider" to "5. Save",
and "8. Maintenance Tips"): add, test, save, edit, delete configs in both
privacy modes, against a real `rolecall serve` and the fake provider servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Server, new_account_with_encryption, settled
from tests.fakes.azure_openai import FakeAzureOpenAI
from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.vertex import FakeVertex

pytestmark = pytest.mark.browser

# Keys the fakes accept. The canary must never come back from the server in any form.
CANARY = "sk-canary-E2E-0123456789abcdefWXYZ"
SHARED_KEY = "sk-shared-srv-0123456789abcdefQRST"
ROTATED_KEY = "sk-rotated-0123456789abcdefghROTA"
BAD_KEY = "sk-revoked-0000000000000000000000dead"
PROXY_SECRET = "s3cret-proxy-value-9f8e7d"
AUTH_TEXT = ("The key you pasted is wrong or has been revoked. Double-check the copy-paste — "
             "no leading or trailing spaces.")
RATE_TEXT = ("Your key's rate limit was hit during the test. Wait a moment and try again. "
             "This doesn't mean the key is invalid.")


# ---- servers ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fakes() -> Iterator[SimpleNamespace]:
    servers = SimpleNamespace(openai=FakeOpenAI(), other=FakeOpenAI(), azure=FakeAzureOpenAI(), vertex=FakeVertex())
    started = []
    try:
        for fake in vars(servers).values():
            started.append(fake.start())
        yield servers
    finally:
        for fake in started:
            fake.stop()


@pytest.fixture(autouse=True)
def fresh_fakes(fakes: SimpleNamespace) -> None:
    for fake in vars(fakes).values():
        fake.reset()
        fake.keys |= {CANARY, SHARED_KEY, ROTATED_KEY}


@pytest.fixture(scope="module")
def byok_server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None) -> Iterator[Server]:
    """`rolecall serve` that may reach the fakes on loopback (an operator's allow-list)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env["ROLECALL_NETWORK__ALLOW_PRIVATE"] = '["127.0.0.0/8"]'
    if postgres_url:
        from tests.conftest import TEST_ENCRYPTION_KEYS

        env["DATABASE_URL"] = postgres_url
        env["ROLECALL_ENCRYPTION_KEYS"] = TEST_ENCRYPTION_KEYS
    srv = Server(tmp_path_factory.mktemp("byok") / "data", env)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


# ---- a person with encryption set up -----------------------------------------------------------

class Person(SimpleNamespace):
    page: Page
    words: list[str]
    sent: list[tuple[str, str, str]]  # (method, url, body) of every request the page made
    errors: list[str]  # uncaught page errors


def new_person(chromium: Any, server: Server, **context_args: Any) -> Person:
    context = chromium.new_context(**context_args)
    page = context.new_page()
    person = Person(page=page, sent=[], errors=[])
    page.on("request", lambda r: person.sent.append((r.method, r.url, r.post_data or "")))
    page.on("pageerror", lambda exc: person.errors.append(str(exc)))
    person.words = new_account_with_encryption(page, server, "byok-" + uuid.uuid4().hex[:10])
    settled(page, "[data-byok-providers]")
    expect(page.get_by_role("button", name="+ Add Provider")).to_be_enabled()
    return person


@pytest.fixture
def person(chromium: Any, byok_server: Server) -> Iterator[Person]:
    someone = new_person(chromium, byok_server)
    yield someone
    assert someone.errors == []
    someone.page.context.close()


# ---- what a person does ------------------------------------------------------------------------

def open_add(page: Page) -> Locator:
    page.get_by_role("button", name="+ Add Provider").click()
    dialog = page.get_by_role("dialog", name="Add Provider")
    expect(dialog).to_be_visible()
    return dialog


def fill_form(dialog: Locator, *, mode: str, provider: str, label: str, key: str | None = None,
              base_url: str | None = None, headers: str | None = None) -> None:
    dialog.get_by_label(mode).check()
    dialog.get_by_label("Provider", exact=True).select_option(label=provider)
    dialog.get_by_label("Label", exact=True).fill(label)
    if key is not None:
        key_box = dialog.get_by_label(re.compile("^(API Key|Service Account JSON)"))
        key_box.fill(key)
    if base_url is not None or headers is not None:
        open_advanced(dialog)
    if base_url is not None:
        dialog.get_by_label("Custom Base URL").fill(base_url)
    if headers is not None:
        dialog.get_by_label("Custom Headers").fill(headers)


def open_advanced(dialog: Locator) -> None:
    summary = dialog.locator("summary", has_text="Advanced")
    if dialog.locator("details.advanced[open]").count() == 0:
        summary.click()


def result_box(scope: Locator) -> Locator:
    return scope.locator(".test-result")


def card(page: Page, label: str) -> Locator:
    return page.get_by_role("article", name=label, exact=True)


def status_pill(page: Page, label: str) -> Locator:
    return card(page, label).locator(".card__head .pill")


def fact(page: Page, label: str, term: str) -> Locator:
    return card(page, label).locator(f"dt:text-is('{term}') + dd")


def saves(person: Person) -> list[dict[str, Any]]:
    return [json.loads(body) for method, url, body in person.sent
            if method == "POST" and url.endswith("/api/provider-configs")]


# ---- the tests ---------------------------------------------------------------------------------

def test_e2e_add_test_save_then_a_server_accessible_twin(person: Person, fakes: SimpleNamespace, byok_server: Server) -> None:
    page = person.page
    dialog = open_add(page)
    expect(dialog.get_by_role("heading", name="Add Provider")).to_be_visible()
    expect(dialog.get_by_text("Pick a privacy mode first.")).to_be_visible()
    expect(dialog.get_by_label("Provider", exact=True)).to_be_disabled()  # the privacy mode comes first (Step 3a)
    expect(dialog.get_by_text("background jobs can't use it")).to_be_visible()

    fill_form(dialog, mode="End-to-End Encryption", provider="OpenAI", label="OpenAI personal", key=CANARY,
              base_url=fakes.openai.base_url, headers=f"x-proxy-secret: {PROXY_SECRET}")
    expect(dialog.get_by_text(f"Base URL: {fakes.openai.base_url}", exact=True)).to_be_visible()  # live
    expect(dialog.get_by_label("Organization ID")).to_be_visible()  # OpenAI's own advanced field
    expect(dialog.get_by_role("link", name="platform.openai.com/api-keys")).to_be_visible()
    expect(dialog.get_by_text(re.compile("doesn't look like"))).to_be_hidden()
    dialog.get_by_role("button", name="Test", exact=True).click()
    expect(result_box(dialog)).to_contain_text("Valid")
    expect(result_box(dialog)).to_contain_text("The key works. The provider returned a model list.")
    listing = fakes.openai.requests[-1]
    assert listing.path == "/v1/models" and listing.headers["authorization"] == f"Bearer {CANARY}"
    assert listing.headers["x-proxy-secret"] == PROXY_SECRET

    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("Saved “OpenAI personal”.")).to_be_visible()
    expect(status_pill(page, "OpenAI personal")).to_have_text("Valid")  # the Test before Save counts
    expect(fact(page, "OpenAI personal", "Provider")).to_have_text("OpenAI")
    expect(fact(page, "OpenAI personal", "Privacy")).to_have_text("End-to-End Encryption")
    expect(fact(page, "OpenAI personal", "Key")).to_have_text("…WXYZ")
    expect(fact(page, "OpenAI personal", "Last tested")).not_to_have_text("Never")

    (sent,) = saves(person)
    assert "api_key" not in sent and "headers" not in sent  # E2E: sealed in the browser
    assert sent["privacy_mode"] == "e2e" and sent["credential"].startswith("rc1.e2e.1.")
    assert sent["header_names"] == ["x-proxy-secret"] and sent["test_id"]
    assert uuid.UUID(sent["id"]).version == 4
    # Only the Test (one foreground call) carried the key and the header value; nothing else did.
    others = [body for method, url, body in person.sent if not url.endswith("/provider-configs/test")]
    assert not any(CANARY in body or PROXY_SECRET in body for body in others)

    # A second config of the same provider, Server-Accessible (group-safe), saved without a test.
    dialog = open_add(page)
    fill_form(dialog, mode="Server-Accessible", provider="OpenAI", label="OpenAI shared (group-safe)",
              key=SHARED_KEY, base_url=fakes.openai.base_url)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(status_pill(page, "OpenAI shared (group-safe)")).to_have_text("Untested")
    expect(fact(page, "OpenAI shared (group-safe)", "Privacy")).to_have_text("Server-Accessible")
    expect(fact(page, "OpenAI shared (group-safe)", "Key")).to_have_text("…QRST")
    expect(fact(page, "OpenAI shared (group-safe)", "Last tested")).to_have_text("Never")
    assert saves(person)[-1]["api_key"] == SHARED_KEY  # this mode hands the key to the server

    card(page, "OpenAI shared (group-safe)").get_by_role("button", name="Test Key").click()
    expect(status_pill(page, "OpenAI shared (group-safe)")).to_have_text("Valid")
    assert fakes.openai.requests[-1].headers["authorization"] == f"Bearer {SHARED_KEY}"

    # Test Key on the E2E card: the browser opens the bundle and sends key + headers for that call.
    card(page, "OpenAI personal").get_by_role("button", name="Test Key").click()
    expect(result_box(card(page, "OpenAI personal"))).to_contain_text("The key works.")
    last = fakes.openai.requests[-1]
    assert last.headers["authorization"] == f"Bearer {CANARY}" and last.headers["x-proxy-secret"] == PROXY_SECRET

    # Labels are unique: the server's message lands under the Label field.
    dialog = open_add(page)
    fill_form(dialog, mode="Server-Accessible", provider="OpenAI", label="OpenAI personal", key=SHARED_KEY,
              base_url=fakes.openai.base_url)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_have_text("You already have a config labelled “OpenAI personal”. Labels must be unique.")
    expect(dialog.get_by_label("Label", exact=True)).to_have_attribute("aria-invalid", "true")
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("dialog", name="Discard what you typed?").get_by_role("button", name="Discard").click()
    expect(dialog).to_be_hidden()

    assert CANARY not in page.content() and PROXY_SECRET not in page.content()
    page.reload()  # a fresh page: the vault is locked again, nothing to decrypt with
    expect(fact(page, "OpenAI personal", "Key")).to_have_text("end-to-end encrypted")
    assert CANARY not in page.content() and SHARED_KEY not in page.content()
    assert CANARY not in byok_server.log() and SHARED_KEY not in byok_server.log()


def test_bad_key_is_invalid_rate_limit_leaves_the_status_and_a_new_key_is_untested(
        person: Person, fakes: SimpleNamespace) -> None:
    page = person.page
    dialog = open_add(page)
    fill_form(dialog, mode="Server-Accessible", provider="OpenAI", label="Work OpenAI",
              key="sk-ant-api03-0123456789abcdef", base_url=fakes.openai.base_url)
    expect(dialog.get_by_text("This doesn't look like an OpenAI key (they start with sk-…). "
                              "Check you copied the right one.")).to_be_visible()
    dialog.get_by_label("API Key").fill(BAD_KEY)
    expect(dialog.get_by_text(re.compile("doesn't look like"))).to_be_hidden()

    # The server's validation message names the bad line.
    dialog.get_by_label("Custom Headers").fill("x-trace: 1\nAuthorization: Bearer nope")
    dialog.get_by_role("button", name="Test", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text("Custom Headers, line 2 (Authorization)")
    dialog.get_by_label("Custom Headers").fill("")

    dialog.get_by_role("button", name="Test", exact=True).click()
    expect(result_box(dialog).locator(".pill")).to_have_text("Invalid")
    expect(result_box(dialog)).to_contain_text("401 Unauthorized / Invalid API key")
    expect(result_box(dialog)).to_contain_text(AUTH_TEXT)
    dialog.get_by_role("button", name="Save").click()
    expect(status_pill(page, "Work OpenAI")).to_have_text("Invalid")
    expect(card(page, "Work OpenAI")).to_contain_text(AUTH_TEXT)

    # 429 on Test Key: the explanation shows, the pill stays as it was.
    fakes.openai.fail_next(429, headers={"retry-after": "7"})
    card(page, "Work OpenAI").get_by_role("button", name="Test Key").click()
    expect(result_box(card(page, "Work OpenAI"))).to_contain_text(RATE_TEXT)
    expect(result_box(card(page, "Work OpenAI"))).to_contain_text("Couldn't check")
    expect(status_pill(page, "Work OpenAI")).to_have_text("Invalid")

    # Rotate the key (user guide, "Rotating keys"): Edit, paste the new one, save → Untested; Test Key → Valid.
    card(page, "Work OpenAI").get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit Work OpenAI")
    expect(dialog.get_by_text("To change the privacy mode, delete this config and create it again.")).to_be_visible()
    expect(dialog.get_by_text("Privacy mode: Server-Accessible")).to_be_visible()
    expect(dialog.get_by_label("API Key")).to_have_value("")
    expect(dialog.get_by_label("Label", exact=True)).to_have_value("Work OpenAI")
    open_advanced(dialog)
    expect(dialog.get_by_label("Custom Base URL")).to_have_value(fakes.openai.base_url)
    dialog.get_by_label("API Key").fill(ROTATED_KEY)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(status_pill(page, "Work OpenAI")).to_have_text("Untested")
    expect(fact(page, "Work OpenAI", "Key")).to_have_text("…ROTA")
    card(page, "Work OpenAI").get_by_role("button", name="Test Key").click()
    expect(status_pill(page, "Work OpenAI")).to_have_text("Valid")
    assert fakes.openai.requests[-1].headers["authorization"] == f"Bearer {ROTATED_KEY}"
    patch = [json.loads(b) for m, u, b in person.sent if m == "PATCH"][-1]
    assert patch == {"api_key": ROTATED_KEY}  # only what changed


def test_e2e_edit_moves_origin_needs_the_key_again_then_delete(person: Person, fakes: SimpleNamespace) -> None:
    page = person.page
    dialog = open_add(page)
    fill_form(dialog, mode="End-to-End Encryption", provider="OpenAI", label="Home proxy", key=CANARY,
              base_url=fakes.openai.base_url)
    dialog.get_by_role("button", name="Save").click()
    expect(status_pill(page, "Home proxy")).to_have_text("Untested")  # saved without a test

    # A label-only edit keeps the key and the status.
    card(page, "Home proxy").get_by_role("button", name="Test Key").click()
    expect(status_pill(page, "Home proxy")).to_have_text("Valid")
    card(page, "Home proxy").get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit Home proxy")
    expect(dialog.get_by_text("Privacy mode: End-to-End Encryption")).to_be_visible()
    expect(dialog.get_by_label("End-to-End Encryption")).to_be_hidden()  # no choice: read-only
    dialog.get_by_label("Label", exact=True).fill("Home proxy (solo)")
    dialog.get_by_role("button", name="Save").click()
    expect(status_pill(page, "Home proxy (solo)")).to_have_text("Valid")

    # Moving the base URL to another server without the key: the server's message, nothing saved.
    card(page, "Home proxy (solo)").get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit Home proxy (solo)")
    open_advanced(dialog)
    dialog.get_by_label("Custom Base URL").fill(fakes.other.base_url)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        f"The base URL now points at another server ({fakes.other.url}). Enter the key again")
    dialog.get_by_label("API Key").fill(ROTATED_KEY)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(status_pill(page, "Home proxy (solo)")).to_have_text("Untested")
    expect(fact(page, "Home proxy (solo)", "Key")).to_have_text("…ROTA")  # this page holds the vault
    card(page, "Home proxy (solo)").get_by_role("button", name="Test Key").click()
    expect(status_pill(page, "Home proxy (solo)")).to_have_text("Valid")
    assert fakes.other.requests[-1].headers["authorization"] == f"Bearer {ROTATED_KEY}"
    patches = [json.loads(b) for m, u, b in person.sent if m == "PATCH"]
    assert all("api_key" not in p for p in patches) and patches[-1]["credential"].startswith("rc1.e2e.")

    # Delete asks first; Cancel keeps the config.
    card(page, "Home proxy (solo)").get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete this provider config?")
    expect(confirm).to_contain_text("“Home proxy (solo)” (OpenAI) and its stored key will be removed")
    confirm.get_by_role("button", name="Cancel").click()
    expect(card(page, "Home proxy (solo)")).to_be_visible()
    card(page, "Home proxy (solo)").get_by_role("button", name="Delete").click()
    confirm.get_by_role("button", name="Delete").click()
    expect(card(page, "Home proxy (solo)")).to_have_count(0)
    expect(page.get_by_text("Deleted “Home proxy (solo)”.")).to_be_visible()
    expect(page.get_by_text("No providers yet")).to_be_visible()
    page.reload()
    expect(page.get_by_text("No providers yet")).to_be_visible()


def test_azure_and_vertex_show_their_own_fields(person: Person, fakes: SimpleNamespace) -> None:
    page = person.page
    dialog = open_add(page)
    dialog.get_by_label("Server-Accessible").check()
    dialog.get_by_label("Provider", exact=True).select_option(label="OpenAI")
    open_advanced(dialog)
    expect(dialog.get_by_label("Organization ID")).to_be_visible()
    expect(dialog.get_by_label("Deployment ID")).to_have_count(0)

    dialog.get_by_label("Provider", exact=True).select_option(label="Azure OpenAI")
    expect(dialog.get_by_label("Organization ID")).to_have_count(0)  # OpenAI-only
    expect(dialog.get_by_label("Resource Name")).to_be_visible()
    expect(dialog.get_by_label("Deployment ID")).to_be_visible()
    expect(dialog.get_by_label("API Version")).to_have_value("2024-10-21")
    dialog.get_by_label("Label", exact=True).fill("Azure prod")
    dialog.get_by_label("API Key").fill(SHARED_KEY)
    dialog.get_by_label("Resource Name").fill("my-res")
    dialog.get_by_label("Deployment ID").fill("gpt-4o-prod")
    open_advanced(dialog)
    dialog.get_by_label("Custom Base URL").fill(fakes.azure.url + "/openai")
    dialog.get_by_role("button", name="Test", exact=True).click()
    expect(result_box(dialog).locator(".pill")).to_have_text("Valid")
    dialog.get_by_role("button", name="Save").click()
    expect(status_pill(page, "Azure prod")).to_have_text("Valid")
    expect(fact(page, "Azure prod", "Provider")).to_have_text("Azure OpenAI")
    assert [r.path for r in fakes.azure.requests][:2] == ["/openai/models", "/openai/deployments/gpt-4o-prod/chat/completions"]
    assert fakes.azure.requests[0].headers["api-key"] == SHARED_KEY

    # Vertex: a service-account JSON (sealed in the browser) and a region. The served app always
    # exchanges tokens at Google's fixed endpoint, which this sandbox cannot reach, so the config is
    # saved untested here (the adapter's own tests cover the token exchange against FakeVertex).
    account = json.dumps(fakes.vertex.service_account(), indent=2)
    dialog = open_add(page)
    fill_form(dialog, mode="End-to-End Encryption", provider="Vertex AI (Google Cloud)", label="Vertex Claude")
    expect(dialog.get_by_label("Region")).to_have_value("us-central1")
    expect(dialog.get_by_label("Project ID")).to_be_visible()
    expect(dialog.get_by_label("Resource Name")).to_have_count(0)
    dialog.get_by_label("Service Account JSON").fill(account)
    dialog.get_by_label("Region").fill("us-east5")
    open_advanced(dialog)
    dialog.get_by_label("Custom Base URL").fill(fakes.vertex.base_url)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(status_pill(page, "Vertex Claude")).to_have_text("Untested")
    expect(fact(page, "Vertex Claude", "Key")).to_have_text("service-account JSON")
    sent = saves(person)[-1]
    assert sent["values"] == {"region": "us-east5"} and "api_key" not in sent
    assert "PRIVATE KEY" not in json.dumps(sent) and "PRIVATE KEY" not in page.content()


def test_locked_vault_refuses_e2e_save_and_phone_layout(chromium: Any, byok_server: Server, fakes: SimpleNamespace) -> None:
    someone = new_person(chromium, byok_server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = someone.page
    dialog = open_add(page)
    box = dialog.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    fill_form(dialog, mode="End-to-End Encryption", provider="OpenAI", label="Phone key", key=CANARY,
              base_url=fakes.openai.base_url)
    dialog.get_by_role("button", name="Save").click()
    expect(card(page, "Phone key")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.get_by_role("button", name="Forget this device").click()
    page.reload()  # a locked page: this browser no longer holds the vault key
    expect(page.get_by_role("textbox", name="Recovery phrase")).to_be_visible()
    expect(fact(page, "Phone key", "Key")).to_have_text("end-to-end encrypted")
    card(page, "Phone key").get_by_role("button", name="Test Key").click()
    expect(card(page, "Phone key").get_by_role("alert")).to_have_text(
        "Unlock encryption above (End-to-End Encryption card) to test an end-to-end key.")

    count = len(saves(someone))
    dialog = open_add(page)
    fill_form(dialog, mode="End-to-End Encryption", provider="OpenAI", label="Another key", key=CANARY,
              base_url=fakes.openai.base_url)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_contain_text("This browser doesn't hold your encryption key yet. Unlock it above")
    assert len(saves(someone)) == count  # nothing was sent
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("dialog", name="Discard what you typed?").get_by_role("button", name="Discard").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("textbox", name="Recovery phrase").fill(" ".join(someone.words))
    page.get_by_role("button", name="Unlock").click()
    expect(fact(page, "Phone key", "Key")).to_have_text("…WXYZ")  # shown once unlocked
    assert someone.errors == []
    someone.page.context.close()


def test_the_form_refuses_a_private_or_plain_http_base_url_as_it_is_typed(person: Person) -> None:
    page = person.page
    dialog = open_add(page)
    fill_form(dialog, mode="Server-Accessible", provider="Custom (OpenAI-compatible)", label="my llm", key=CANARY)
    base = dialog.get_by_label("Base URL", exact=True)  # the Custom endpoint's main field
    field_error = dialog.locator('[data-field="base_url"] .field-error')
    base.fill("http://10.0.0.7:11434/v1")
    base.press("Tab")
    expect(field_error).to_be_visible()
    expect(field_error).to_contain_text("Destination not allowed")
    expect(field_error).to_contain_text("Cloudflare Tunnel")
    base.fill("http://8.8.8.8/v1")
    base.press("Tab")
    expect(field_error).to_contain_text("unencrypted")
    base.fill("https://8.8.8.8/v1")
    base.press("Tab")
    expect(field_error).to_be_hidden()
    base.fill("http://10.0.0.7:11434/v1")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_text("Destination not allowed").first).to_be_visible()
    assert [s for s in saves(person) if s.get("base_url", "").startswith("http://10.")], "the server was asked"
