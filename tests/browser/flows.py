"""Steps several browser tests take the way a person would: sign up, log in, set up encryption."""

from __future__ import annotations

from playwright.sync_api import Page, expect

PASSWORD = "a stage of one's own"


def sign_up(page: Page, base_url: str, name: str) -> None:
    """Create an account through the sign-up form; the app lands on the scenes page."""
    _account_form(page, base_url + "/signup", "Sign up", name)
    expect(page).to_have_url(base_url + "/scenes")


def log_in(page: Page, base_url: str, name: str) -> None:
    """Log in through the form; the app lands on the scenes page."""
    _account_form(page, base_url + "/login", "Log in", name)
    expect(page).to_have_url(base_url + "/scenes")


def _account_form(page: Page, url: str, button: str, name: str) -> None:
    page.goto(url)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=button).click()


def set_up_encryption(page: Page) -> list[str]:
    """On the API Keys tab: show the words, tick the box, type them back, confirm. The words."""
    page.get_by_role("button", name="Set up encryption").click()
    words = page.get_by_role("list", name="Your recovery phrase").locator("li").all_inner_texts()
    page.get_by_label("I have written down all 12 words").check()
    page.get_by_role("button", name="Continue").click()
    for i, word in enumerate(words):
        page.get_by_label(f"Word {i + 1}", exact=True).fill(word)
    page.get_by_role("button", name="Confirm").click()
    try:
        expect(page.get_by_test_id("encryption-status")).to_have_text("Active")
    except AssertionError:
        said = page.get_by_role("alert").all_inner_texts() + page.get_by_role("status").all_inner_texts()
        raise AssertionError(f"encryption set-up did not finish; the page says {said}") from None
    return words
