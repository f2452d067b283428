"""The admin page's journey 7 (issue 17): an admin makes a key, whose secret is shown once,
copies it and revokes it; a key without admin is told keys are not its to manage. In a real
Chromium, against the real service (see tests/ui_test.py)."""

import re

import httpx

from tests.ui_configurations_test import signed_in
from tests.ui_test import WIDTHS, accessible, api, browser, open_page, screenshot, service  # noqa: F401
from tests.waiting import wait_until


def status_with(running, key: str) -> int:
    """What the API answers the key, asking for the applications."""
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{running.url}/api/v1/applications", headers=headers, timeout=30).status_code


def test_journey_7_create_copy_and_revoke_a_key(browser, service, api):  # noqa: F811
    from playwright.sync_api import expect

    context, page, errors = signed_in(browser, service, WIDTHS["desktop"])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=service.url)

    page.get_by_role("link", name="Keys").click()
    expect(page.get_by_role("heading", name="New key")).to_be_visible()
    keys = page.get_by_role("table", name="Existing keys")
    expect(keys.get_by_role("cell", name="bootstrap (this session)")).to_be_visible()  # signed in with

    # No scope, then an application id that is none: each refusal is shown at its control.
    page.get_by_label("Name", exact=True).fill("ci-reader")
    page.get_by_label("read", exact=True).uncheck()
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#key-scopes-error")).to_have_text("Choose at least one scope.")
    page.get_by_label("read", exact=True).check()
    page.get_by_label("Application ids", exact=False).fill("not-an-id")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#key-applications-error")).to_contain_text("application_ids[0]")
    expect(page.locator("#key-scopes-error")).to_be_empty()
    expect(page.get_by_label("Application ids", exact=False)).to_have_attribute("aria-invalid", "true")
    assert api.get("/api-keys", params={"name": "ci-reader"}).json() == []

    page.get_by_label("Application ids", exact=False).fill("")
    page.get_by_role("button", name="Create key").click()
    secret_box = page.get_by_label("Secret", exact=True)
    expect(secret_box).to_have_value(re.compile(r"^cs_."))
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    secret = secret_box.input_value()
    assert secret.startswith("cs_") and len(secret) > 10
    assert secret_box.get_attribute("readonly") is not None
    expect(keys.get_by_role("cell", name="ci-reader", exact=True)).to_be_visible()  # the list refreshed
    row = keys.get_by_role("row").filter(has=page.get_by_role("cell", name="ci-reader", exact=True))
    expect(row.get_by_role("cell", name="read", exact=True)).to_be_visible()
    expect(row.get_by_role("cell", name="all", exact=True)).to_be_visible()
    assert status_with(service, secret) == 200
    expect(page.locator(".field-error:not(:empty)")).to_have_count(0)  # the refusals are gone

    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied", exact=True)).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert accessible(page) == []
    screenshot(page, "keys-1280")

    # Shown once: nowhere on the page, nor in the tab's storage, once reloaded.
    page.reload()
    expect(keys.get_by_role("cell", name="ci-reader", exact=True)).to_be_visible()
    assert secret not in page.content()
    assert secret not in page.evaluate("JSON.stringify(sessionStorage) + JSON.stringify(localStorage)")
    expect(page.get_by_label("Secret", exact=True)).to_have_count(0)

    # Revoking asks once more; cancelling keeps the key.
    page.get_by_role("button", name="Revoke ci-reader").click()
    page.get_by_role("button", name="Cancel revoking ci-reader").click()
    expect(page.get_by_role("button", name="Revoke ci-reader")).to_be_focused()
    page.keyboard.press("Enter")  # from the keyboard, this time
    page.get_by_role("button", name="Yes, revoke ci-reader").press("Enter")
    expect(keys.get_by_role("cell", name="ci-reader", exact=True)).to_have_count(0)
    assert api.get("/api-keys", params={"name": "ci-reader"}).json() == []
    # Every process refuses it within the notification latency.
    wait_until(lambda: status_with(service, secret) == 401, timeout_s=30, what="the revoked key is refused")
    assert status_with(service, secret) == 401
    assert errors == []
    context.close()


def test_a_key_without_admin_is_told_keys_are_not_its_to_manage(browser, service, api):  # noqa: F811
    from playwright.sync_api import expect

    reader = api.post("/api-keys", json={"name": "reader", "scopes": ["read"]}).json()
    context, page, errors = open_page(browser, service, WIDTHS["desktop"])
    page.goto("/ui/")
    page.get_by_label("API key").fill(reader["key"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Applications", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Audit log")).to_be_visible()  # the header is there…
    expect(page.get_by_role("link", name="Keys")).to_have_count(0)  # …without the way to keys

    page.goto("/ui/#/keys")
    expect(page.get_by_role("alert")).to_contain_text("Only an admin key can manage keys")
    expect(page.get_by_role("button", name="Create key")).to_have_count(0)
    assert accessible(page) == []
    assert errors == []
    context.close()


def test_a_refused_clipboard_says_to_copy_the_secret_by_hand(browser, service):  # noqa: F811
    from playwright.sync_api import expect

    context, page, errors = signed_in(browser, service, WIDTHS["desktop"])
    page.goto("/ui/#/keys")
    # As a browser does without the permission.
    refuse = "() => { navigator.clipboard.writeText = () => Promise.reject(new DOMException('denied')); }"
    page.evaluate(refuse)
    page.get_by_label("Name", exact=True).fill("copied-by-hand")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("Secret", exact=True)
    expect(secret).to_have_value(re.compile(r"^cs_."))

    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Select and copy it", exact=True)).to_be_visible()
    expect(secret).to_be_focused()  # selected, ready for the keyboard's copy
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_label("Secret", exact=True)).to_have_count(0)
    assert errors == []
    context.close()
