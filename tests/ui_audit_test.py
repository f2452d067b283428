"""The admin page's journey 6 (issue 17): the audit log, filtered by actor, action and time,
a page at a time. In a real Chromium, against the real service (see tests/ui_test.py)."""

import httpx

from tests.ui_configurations_test import signed_in
from tests.ui_test import WIDTHS, accessible, api, browser, screenshot, service  # noqa: F401


def test_journey_6_filter_and_page_through_the_audit_log(browser, service, api):  # noqa: F811
    from playwright.sync_api import expect

    deployer = api.post("/api-keys", json={"name": "deployer", "scopes": ["read", "write"]}).json()
    headers = {"Authorization": f"Bearer {deployer['key']}"}
    with httpx.Client(base_url=f"{service.url}/api/v1", headers=headers) as as_deployer:
        for n in range(25):  # more than a page of the deployer's own
            as_deployer.post("/applications", json={"name": f"audited-{n}"}).raise_for_status()
    context, page, errors = signed_in(browser, service, WIDTHS["desktop"])

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    page.get_by_label("Actor").fill("deployer")
    page.get_by_label("Action").select_option("application.created")
    page.get_by_role("button", name="Apply").click()
    events = page.get_by_role("table", name="Events")
    expect(events.get_by_role("row")).to_have_count(21)  # the head and a page of 20
    expect(events).not_to_contain_text("bootstrap")
    expect(events.get_by_role("cell", name="audited-24")).to_be_visible()  # newest first
    assert accessible(page) == []
    screenshot(page, "audit-1280")

    page.get_by_role("button", name="Next page").click()
    expect(events.get_by_role("row")).to_have_count(6)
    expect(events.get_by_role("cell", name="audited-0")).to_be_visible()
    expect(page.get_by_role("button", name="Next page")).to_have_count(0)
    page.get_by_role("button", name="Previous page").click()
    expect(events.get_by_role("cell", name="audited-24")).to_be_visible()

    page.get_by_label("Since").fill("2100-01-01T00:00:00")  # nothing happened after this
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No events match.")).to_be_visible()
    assert errors == []
    context.close()
