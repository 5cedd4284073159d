"""A person signs up, logs in and walks the app shell in a real browser against `rolecall serve`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, sign_up

pytestmark = pytest.mark.browser


def test_sign_up_log_in_and_walk_the_shell(server: Any, chromium: Any) -> None:
    context = chromium.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(server.url + "/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Name").fill("ada")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert")).to_have_text("Passwords need at least 8 characters.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(server.url + "/scenes")
    expect(page.get_by_text("No scenes yet")).to_be_visible()

    page.get_by_role("button", name=re.compile("Log out")).click()
    expect(page).to_have_url(server.url + "/login")
    page.get_by_label("Name").fill("ada")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("That password is not right. Check it and try again.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(server.url + "/scenes")

    page.get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="API Keys").click()
    expect(page).to_have_url(server.url + "/settings?tab=api-keys")
    expect(page.get_by_role("heading", name="End-to-End Encryption")).to_be_visible()
    expect(page.get_by_role("heading", name="Token Balance")).to_be_visible()
    expect(page.get_by_role("heading", name="BYOK Providers")).to_be_visible()
    expect(page.get_by_text("Set up encryption first")).to_be_visible()

    page.get_by_role("link", name="Cast").first.click()
    expect(page).to_have_url(server.url + "/models")
    expect(page.get_by_role("heading", name="Premiere Theater")).to_be_visible()
    expect(page.get_by_text("No providers connected")).to_be_visible()

    page.get_by_role("link", name="Scenes").click()
    page.get_by_role("button", name="+ New character").click()
    page.get_by_label("Name").fill("The Keeper")
    page.get_by_label("Persona").fill("Keeps the lighthouse.")
    page.get_by_role("button", name="Save character").click()
    page.get_by_role("button", name="Start scene with The Keeper").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The Keeper")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete scene").click()  # enabled once the page's script runs
    expect(page).to_have_url(server.url + "/scenes")
    expect(page.get_by_text("No scenes yet")).to_be_visible()

    assert all(url.startswith(server.url) for url in requests), "the app fetched something from elsewhere"
    assert not errors, errors
    context.close()


def test_phone_layout_has_a_working_menu(server: Any, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_up(page, server, "grace")
    settings_link = page.get_by_role("link", name="Settings")
    expect(settings_link).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    settings_link.click()
    expect(page).to_have_url(server.url + "/settings")
    page.goto(server.url + "/settings?tab=api-keys")  # a page with more modules: still one menu
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Scenes")).to_be_visible()
    # Nothing overflows the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
