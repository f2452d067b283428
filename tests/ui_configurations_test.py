"""The admin page's journeys 2 and 3 (issue 17): a configuration made and edited in the JSON
editor, its schema's errors shown by path before saving, a save that lost a race, and its
history: versions, a diff of two, a rollback with a comment. In a real Chromium, against the
real service (see tests/ui_test.py, whose fixtures and helpers these share)."""

import pytest

from tests.apps import ADMIN_KEY
from tests.ui_test import WIDTHS, accessible, api, browser, open_page, screenshot, service  # noqa: F401

POOL_SCHEMA = {
    "type": "object",
    "properties": {"pool": {"type": "object", "properties": {"max": {"type": "integer", "maximum": 200}}}},
}


def signed_in(browser, service, width):  # noqa: F811
    from playwright.sync_api import expect

    context, page, errors = open_page(browser, service, width)
    page.goto("/ui/")
    page.get_by_label("API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Applications", exact=True)).to_be_visible()
    return context, page, errors


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_journey_2_create_and_edit_a_configuration_with_its_schema(browser, service, api, width):  # noqa: F811
    from playwright.sync_api import expect

    app = api.post("/applications", json={"name": f"editing-{width}"}).json()
    api.post("/schemas", json={"name": f"pool-{width}", "schema": POOL_SCHEMA}).raise_for_status()
    context, page, errors = signed_in(browser, service, width)
    page.goto(f"/ui/#/applications/{app['id']}")

    page.get_by_label("Configuration name").fill("database")
    page.get_by_role("button", name="Create configuration").click()
    expect(page.get_by_role("heading", name="database")).to_be_visible()
    configuration = api.get(
        "/configurations", params={"application_id": app["id"], "name": "database"}
    ).json()[0]
    # Bound to the schema by someone else: the page shows it once reloaded.
    api.put(
        f"/configurations/{configuration['id']}", json={"schema": {"name": f"pool-{width}"}}
    ).raise_for_status()
    page.reload()
    expect(page.locator("#configuration-version")).to_contain_text(f"schema pool-{width}")

    editor = page.get_by_label("Config (JSON)")
    editor.fill('{"pool": {"max": 500,}}')  # kept as typed; a syntax error is shown at once
    expect(page.locator("#config-editor-syntax")).to_contain_text("Not JSON")
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
    editor.fill('{"pool": {"max": 500}}')
    expect(page.locator("#config-editor-syntax")).to_be_empty()
    page.get_by_role("button", name="Validate").click()  # the dry run: each error at its path
    problems = page.get_by_role("list", name="Problems")
    expect(problems).to_contain_text("/pool/max")
    assert api.get(f"/configurations/{configuration['id']}").json()["version"] == 2  # nothing written
    assert accessible(page) == []
    screenshot(page, f"configuration-{width}")

    editor.fill('{"pool": {"max": 50}}')
    page.get_by_role("button", name="Validate").click()
    expect(problems).to_contain_text("Valid")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#configuration-version")).to_contain_text("Version 3")
    assert api.get(f"/configurations/{configuration['id']}").json()["config"] == {"pool": {"max": 50}}

    # Another operator saves while I edit: mine is kept, then refused (If-Match) when I save,
    # and theirs is shown beside it: nothing is lost silently.
    editor.fill('{"pool": {"max": 70}}')
    theirs = {"config": {"pool": {"max": 60}}}
    api.put(f"/configurations/{configuration['id']}", json=theirs).raise_for_status()
    expect(page.locator("#live-notice")).to_contain_text("your unsaved edit is kept", timeout=10_000)
    page.get_by_role("button", name="Save").click()
    expect(problems).to_contain_text("saved by someone else")
    expect(problems).to_contain_text('"max": 60')
    assert api.get(f"/configurations/{configuration['id']}").json()["config"] == {"pool": {"max": 60}}
    page.get_by_role("button", name="Overwrite theirs").click()
    expect(page.locator("#configuration-version")).to_contain_text("Version 5")
    assert api.get(f"/configurations/{configuration['id']}").json()["config"] == {"pool": {"max": 70}}
    assert errors == []
    context.close()


def test_journey_3_history_diff_and_rollback(browser, service, api):  # noqa: F811
    from playwright.sync_api import expect

    app = api.post("/applications", json={"name": "history"}).json()
    created = api.post(
        "/configurations", json={"application_id": app["id"], "name": "limits", "config": {"rate": 1}}
    ).json()
    for rate in (2, 3):
        api.put(f"/configurations/{created['id']}", json={"config": {"rate": rate}}).raise_for_status()
    context, page, errors = signed_in(browser, service, WIDTHS["desktop"])
    page.goto(f"/ui/#/configurations/{created['id']}")

    history = page.get_by_role("region", name="History")
    expect(history.get_by_role("row")).to_have_count(4)  # the head and three versions
    page.get_by_label("From", exact=True).select_option("1")
    page.get_by_label("To", exact=True).select_option("3")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("list", name="Changes from version 1 to 3")).to_contain_text("replace /rate = 3")

    page.get_by_label("To version").select_option("1")
    page.get_by_label("Comment").fill("back to one")
    page.get_by_role("button", name="Roll back").click()
    expect(page.locator("#configuration-version")).to_contain_text("Version 4")  # at once
    expect(history.get_by_role("row")).to_have_count(5)
    expect(history).to_contain_text("back to one")
    assert api.get(f"/configurations/{created['id']}").json()["config"] == {"rate": 1}
    assert accessible(page) == []
    screenshot(page, "history-1280")
    assert errors == []
    context.close()


def test_journey_5_another_operators_change_appears_and_an_unsaved_edit_is_kept(browser, service, api):  # noqa: F811
    from playwright.sync_api import expect

    app = api.post("/applications", json={"name": "live"}).json()
    created = api.post(
        "/configurations", json={"application_id": app["id"], "name": "limits", "config": {"rate": 1}}
    ).json()
    context, page, errors = signed_in(browser, service, WIDTHS["desktop"])
    page.goto(f"/ui/#/configurations/{created['id']}")
    editor = page.get_by_label("Config (JSON)")
    expect(editor).to_have_value('{\n  "rate": 1\n}')

    # Through the change feed, with a notice; the issue asks for within 1 s (a busy CI machine
    # gets a generous deadline: the benchmarks measure speed, not the tests).
    api.put(f"/configurations/{created['id']}", json={"config": {"rate": 2}}).raise_for_status()
    notice = page.locator("#live-notice")
    expect(notice).to_contain_text("Version 2 was saved by bootstrap", timeout=10_000)
    expect(editor).to_have_value('{\n  "rate": 2\n}')

    editor.fill('{"rate": 99}')  # mine, not saved yet
    api.put(f"/configurations/{created['id']}", json={"config": {"rate": 3}}).raise_for_status()
    expect(notice).to_contain_text("your unsaved edit is kept", timeout=10_000)
    expect(editor).to_have_value('{"rate": 99}')
    page.get_by_role("button", name="Load theirs").click()
    expect(editor).to_have_value('{\n  "rate": 3\n}')
    assert errors == []
    context.close()
