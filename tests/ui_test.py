"""The admin page's journeys (issue 17), in a real Chromium against the real service.

Debian's Chromium, driven by Playwright (whose own browser download cannot work here): the
tests skip, saying so, when /usr/bin/chromium is missing; `.ci/run` installs it. Each page is
checked by axe-core for serious or critical violations, no page may log an error (a script
the Content-Security-Policy refused would), and with UI_SCREENSHOTS=1 each journey saves a
screenshot under ui/screenshots/.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.apps import ADMIN_KEY
from tests.postgres import TestServer
from tests.server import ROOT, Service, service_on_new_database

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "ui" / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 390}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no Chromium at /usr/bin/chromium: `apt-get install chromium` (.ci/run does)",
)


@pytest.fixture(scope="module")
def service(postgres: TestServer) -> Iterator[Service]:
    with service_on_new_database(postgres) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def api(service: Service) -> Iterator[httpx.Client]:
    """What another operator does meanwhile, through the API."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=f"{service.url}/api/v1", headers=headers, timeout=30) as client:
        yield client


def open_page(browser, service: Service, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=service.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if _an_error(message) else None)
    return context, page, errors


def _an_error(message) -> bool:
    """An error the page made: not the browser's note of a response the journey meant to be
    refused (a wrong key's 401, a taken name's 409); a policy's refusal ("Refused to …") is one."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def accessible(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in violations if v["impact"] in ("serious", "critical")]


def screenshot(page, name: str) -> None:
    if os.environ.get("UI_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_journey_1_sign_in_search_create_and_open_an_application(browser, service, api, width):
    from playwright.sync_api import expect

    suffix = f"-{width}"
    payments = api.post("/applications", json={"name": f"payments{suffix}"}).json()
    api.post(
        "/configurations",
        json={"application_id": payments["id"], "name": "database", "config": {"host": "db"}},
    ).raise_for_status()
    flag = {"key": "new-checkout", "variants": {"on": True, "off": False}, "default_variant": "off"}
    api.post(f"/applications/{payments['id']}/flags", json=flag | {"off_variant": "off"}).raise_for_status()
    context, page, errors = open_page(browser, service, width)

    page.goto("/ui/")
    key = page.get_by_label("API key")
    key.fill("cs_not-a-key")
    key.press("Enter")  # from the keyboard
    expect(page.locator("#sign-in-key-error")).to_contain_text("not accepted")
    assert accessible(page) == []
    screenshot(page, f"sign-in{suffix}")
    key.fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Applications", exact=True)).to_be_visible()

    page.get_by_label("Search applications").fill(f"PAYMENTS{suffix}")
    expect(page.get_by_role("link", name=f"payments{suffix}")).to_be_visible()
    assert accessible(page) == []
    screenshot(page, f"applications{suffix}")

    # A name taken: the API's refusal is shown, with its title.
    page.get_by_label("Name", exact=True).fill(f"payments{suffix}")
    page.get_by_role("button", name="Create application").click()
    expect(page.locator(".form-error")).to_contain_text("Conflict")
    page.get_by_label("Name", exact=True).fill(f"checkout{suffix}")
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("heading", name=f"checkout{suffix}")).to_be_visible()
    assert (
        api.get("/applications", params={"name": f"checkout{suffix}"}).json()[0]["name"]
        == f"checkout{suffix}"
    )

    page.get_by_role("link", name="Applications").first.click()
    page.get_by_role("link", name=f"payments{suffix}").click()
    expect(page.get_by_role("heading", name=f"payments{suffix}")).to_be_visible()
    expect(page.get_by_text("null")).to_have_count(0)  # no comments: nothing shown for them
    configurations = page.get_by_role("region", name="Configurations")
    expect(configurations.get_by_role("cell", name="database")).to_be_visible()
    expect(page.get_by_role("region", name="Flags").get_by_role("cell", name="new-checkout")).to_be_visible()
    changes = page.get_by_role("region", name="Recent changes")
    expect(changes.get_by_text("flag.created new-checkout")).to_be_visible()
    expect(changes.get_by_text("configuration.created database")).to_be_visible()
    assert accessible(page) == []
    screenshot(page, f"application{suffix}")

    # The key lives in this tab's sessionStorage only: no cookie, nothing in localStorage.
    assert context.cookies() == []
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("sessionStorage.getItem('config-service.key')") == ADMIN_KEY
    assert errors == []
    context.close()


def test_a_refused_key_returns_to_sign_in_with_the_reason(browser, service):
    from playwright.sync_api import expect

    context, page, errors = open_page(browser, service, WIDTHS["desktop"])
    page.goto("/ui/")
    page.get_by_label("API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Applications", exact=True)).to_be_visible()

    # As if the key were revoked meanwhile: the next request is refused with 401.
    page.evaluate("sessionStorage.setItem('config-service.key', 'cs_revoked')")
    page.reload()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Signed out:")
    assert page.evaluate("sessionStorage.getItem('config-service.key')") is None
    assert errors == []
    context.close()
