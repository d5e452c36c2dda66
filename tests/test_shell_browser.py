"""The page shell in Chromium: navigation at phone width, dark mode and its toggle, favicon, error pages."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAV_LINKS = ["Enhances", "Events", "Runs", "Releases", "Logs", "Admin", "API"]


def test_every_nav_link_is_reachable_at_phone_width(page, login, make_user):
    page.set_viewport_size({"width": 375, "height": 740})
    login(make_user("root", superuser=True))
    page.goto("/")
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing runs off-screen
    for name in NAV_LINKS:
        link = page.locator("header nav").get_by_role("link", name=name, exact=True)
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (name, box)
    logout = page.get_by_test_id("logout")
    box = logout.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    page.locator("header nav").get_by_role("link", name="Logs", exact=True).click()
    page.wait_for_url("**/logs/")


def test_the_theme_follows_the_system_and_the_toggle_is_remembered(page, login, make_user):
    login(make_user("root", superuser=True))
    page.emulate_media(color_scheme="dark")
    page.goto("/")
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    page.emulate_media(color_scheme="light")
    assert (
        page.evaluate("getComputedStyle(document.documentElement).backgroundColor") != background
    )  # follows the system
    toggle = page.get_by_test_id("theme-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")  # the label follows the system too
    toggle.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert toggle.get_attribute("aria-pressed") == "true"
    assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == background
    page.goto("/runs/")  # the choice is kept across pages, against the system's light
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("localStorage.getItem('ledger-theme')") == "dark"
    page.get_by_test_id("theme-toggle").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"


def test_no_page_asks_for_a_missing_favicon(page, login, make_user):
    failures = []
    page.on("response", lambda r: failures.append(r.url) if r.status >= 400 else None)
    login(make_user("root", superuser=True))
    page.goto("/")
    assert page.request.get("/favicon.ico").status == 200
    assert not failures


def test_a_404_page_has_the_navigation_and_a_way_back(page, login, make_user):
    login(make_user("bob", roles=["reader"]))
    page.goto("/runs/")
    response = page.goto("/runs/no-such-thing/")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert page.locator("header nav").get_by_role("link", name="Runs", exact=True).is_visible()
    page.get_by_test_id("error-home").click()
    page.wait_for_url(lambda url: url.endswith("/"))
