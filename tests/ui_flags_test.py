"""The admin page's journey 4 (issue 17): a flag's page, its kill switch, its rollout slider and
a condition added to its first rule, each checked through the API's own evaluation. In a real
Chromium, against the real service (see tests/ui_test.py, whose fixtures and helpers these share)."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.apps import ADMIN_KEY
from tests.ui_test import WIDTHS, accessible, api, browser, open_page, screenshot, service  # noqa: F401
from tests.waiting import wait_until

FLAG = {
    "key": "new-checkout",
    "description": "the one-page checkout",
    "enabled": True,
    "variants": {"on": True, "off": False},
    "default_variant": "off",
    "off_variant": "off",
    "rules": [{"rollout": [{"variant": "on", "weight": 1000}, {"variant": "off", "weight": 9000}]}],
}


def eventually(read: Callable[[], Any], holds: Callable[[Any], bool], deadline: float = 15) -> Any:
    """What `read` gives once `holds` says so: a cached evaluation may lag a write by a moment."""
    last: list[Any] = []

    def held() -> bool:
        last[:] = [read()]
        return holds(last[0])

    wait_until(held, timeout_s=deadline, what="the evaluation shows the change")
    return last[0]


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_journey_4_kill_switch_rollout_and_a_condition(browser, service, api, width):  # noqa: F811
    from playwright.sync_api import expect

    app = api.post("/applications", json={"name": f"flags-{width}"}).json()
    flags = f"/applications/{app['id']}/flags"
    api.post(flags, json=FLAG).raise_for_status()

    def evaluate(context: dict[str, Any]) -> dict[str, Any]:
        response = api.post(f"{flags}/evaluate", json={"context": context})
        response.raise_for_status()
        return response.json()["flags"]["new-checkout"]

    context, page, errors = open_page(browser, service, width)
    page.goto("/ui/")
    page.get_by_label("API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Applications", exact=True)).to_be_visible()
    page.goto(f"/ui/#/applications/{app['id']}/flags/new-checkout")

    expect(page.get_by_role("heading", name="new-checkout")).to_be_visible()
    expect(page.get_by_text("the one-page checkout")).to_be_visible()
    expect(page.get_by_text("Everyone: on 10 %, off 90 % (by targeting_key)")).to_be_visible()
    version = page.locator("#flag-version")
    expect(version).to_have_text("Version 1")
    assert accessible(page) == []

    # The kill switch, from the keyboard: off, everyone gets off_variant; then on again.
    switch = page.get_by_label("Enabled")
    expect(switch).to_be_checked()
    switch.focus()
    page.keyboard.press("Space")
    expect(version).to_have_text("Version 2 · saved")
    expect(page.get_by_label("Enabled")).not_to_be_checked()
    assert api.get(f"{flags}/new-checkout").json()["enabled"] is False
    off = eventually(lambda: evaluate({"targeting_key": "u"}), lambda r: r["reason"] == "DISABLED")
    assert off == {"value": False, "variant": "off", "reason": "DISABLED", "error_code": None}
    page.get_by_label("Enabled").check()
    expect(version).to_have_text("Version 3 · saved")
    assert api.get(f"{flags}/new-checkout").json()["enabled"] is True

    # The rollout: 10 % to 50 %.
    slider = page.get_by_label("Rollout of on (%)")
    expect(slider).to_have_value("10")
    slider.fill("50")
    expect(page.locator("#rollout-0-shown")).to_have_text("on 50 %, off 50 %")
    page.get_by_role("button", name="Save rollout").click()
    expect(version).to_have_text("Version 4 · saved")
    expect(page.get_by_text("Everyone: on 50 %, off 50 % (by targeting_key)")).to_be_visible()
    rollout = api.get(f"{flags}/new-checkout").json()["rules"][0]["rollout"]
    assert [(s["variant"], s["weight"]) for s in rollout] == [("on", 5000), ("off", 5000)]

    def variants_of_200() -> set[tuple[str, str]]:
        results = [evaluate({"targeting_key": f"user-{n}"}) for n in range(200)]
        return {(r["variant"], r["reason"]) for r in results}

    split = eventually(variants_of_200, lambda seen: seen == {("on", "SPLIT"), ("off", "SPLIT")})
    assert split == {("on", "SPLIT"), ("off", "SPLIT")}

    # A condition the API refuses is shown at its field, with the API's message.
    page.get_by_label("Attribute").fill("age")
    page.get_by_label("Operator").select_option("gt")
    page.get_by_label("Values (comma-separated)").fill("old")
    page.get_by_role("button", name="Add condition").click()
    expect(page.locator("#condition-values-error")).to_contain_text("gt compares numbers")
    expect(version).to_have_text("Version 4 · saved")

    # Another operator's change meanwhile: refused with 412, and a Reload shows theirs.
    api.patch(
        f"{flags}/new-checkout",
        json={"description": "changed meanwhile"},
        headers={"Content-Type": "application/merge-patch+json", "If-Match": '"4"'},
    ).raise_for_status()
    page.get_by_label("Operator").select_option("in")
    page.get_by_label("Attribute").fill("country")
    page.get_by_label("Values (comma-separated)").fill("NZ")
    page.get_by_role("button", name="Add condition").click()
    expect(page.get_by_role("alert").filter(has_text="changed by someone else")).to_be_visible()
    assert api.get(f"{flags}/new-checkout").json()["version"] == 5
    page.get_by_role("button", name="Reload").click()
    expect(version).to_have_text("Version 5")
    expect(page.get_by_text("changed meanwhile")).to_be_visible()

    # Now the condition: country in NZ, added to the (rollout) first rule.
    page.get_by_label("Attribute").fill("country")
    page.get_by_label("Operator").select_option("in")
    page.get_by_label("Values (comma-separated)").fill("NZ")
    page.get_by_role("button", name="Add condition").click()
    expect(version).to_have_text("Version 6 · saved")
    expect(page.get_by_text("If country in NZ: on 50 %, off 50 % (by targeting_key)")).to_be_visible()
    first = api.get(f"{flags}/new-checkout").json()["rules"][0]
    assert first["conditions"] == [{"attribute": "country", "operator": "in", "values": ["NZ"]}]
    assert [s["weight"] for s in first["rollout"]] == [5000, 5000]
    # The rule now holds in NZ alone (its rollout decides there); elsewhere the default.
    in_nz = eventually(
        lambda: evaluate({"targeting_key": "x", "country": "NZ"}), lambda r: r["reason"] == "SPLIT"
    )
    assert in_nz["reason"] == "SPLIT"
    assert evaluate({"targeting_key": "x", "country": "AU"})["reason"] == "DEFAULT"

    assert accessible(page) == []
    screenshot(page, f"flag-{width}")
    assert errors == []
    context.close()
