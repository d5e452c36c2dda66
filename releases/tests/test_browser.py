"""The release pages in a real browser: from the index to a name's timeline, rollbacks, and the as-of picker."""

import datetime

import pytest
import time_machine

from releases.models import Release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
T0 = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def planner_story(make_release):
    """planner: v1, v2, v3 a day apart, then (day 5) a rollback that restores v2."""
    for day, label in enumerate(("v1", "v2", "v3")):
        with time_machine.travel(T0 + datetime.timedelta(days=day), tick=False):
            make_release("planner", label, promoted_by="mira")
    with time_machine.travel(T0 + datetime.timedelta(days=5), tick=False):
        Release.objects.rollback("planner", promoted_by="oncall", notes="v3 loops on tool plans")


def test_a_reader_follows_a_rollback_and_looks_back_in_time(page, login, bob, planner_story):
    login(bob)
    page.goto("/releases/")
    row = page.locator("tr[data-name=planner]")
    assert "v2" in row.inner_text() and "rollback" in row.inner_text()
    row.get_by_role("link", name="planner").click()
    page.wait_for_url("**/releases/planner/")

    entries = page.locator("li.release-entry")
    assert [entries.nth(i).get_attribute("data-action") for i in range(entries.count())] == [
        "rollback",
        "promote",
        "promote",
        "promote",
    ]
    rollback, promotion = page.locator("#entry-4"), page.locator("#entry-3")
    # A rollback is visibly different from a promotion: dashed orange card, its own badge.
    assert rollback.evaluate("el => getComputedStyle(el).borderTopStyle") == "dashed"
    assert promotion.evaluate("el => getComputedStyle(el).borderTopStyle") == "solid"
    assert "rollback" in rollback.locator(".badge").first.inner_text()
    assert rollback.get_by_test_id("current-badge").is_visible()

    # It points to the release it restored.
    rollback.get_by_test_id("restored").get_by_role("link").click()
    page.wait_for_url("**/releases/planner/#entry-2")
    assert page.locator("#entry-2").evaluate("el => el.matches(':target')")

    # As of the middle of day 2, v2 (#2) was current and everything later is dimmed.
    page.get_by_test_id("as-of-input").fill("2026-01-06T12:00:00")
    page.get_by_test_id("as-of-submit").click()
    page.wait_for_url("**/releases/planner/?as_of=*")
    summary = page.get_by_test_id("as-of-summary").inner_text()
    assert "the current release was v2 (#2" in summary
    assert page.locator("#entry-2").get_by_test_id("current-at-badge").is_visible()
    assert page.locator("#entry-4").get_attribute("class").split().count("after-as-of") == 1
    assert "after-as-of" in page.locator("#entry-3").get_attribute("class")
    assert "after-as-of" not in page.locator("#entry-1").get_attribute("class")
    assert float(page.locator("#entry-3").evaluate("el => getComputedStyle(el).opacity")) < 1
    assert page.get_by_test_id("as-of-input").input_value().startswith("2026-01-06T12:00")

    # Before the first release there was nothing current.
    page.get_by_test_id("as-of-input").fill("2026-01-01T00:00:00")
    page.get_by_test_id("as-of-submit").click()
    page.wait_for_url("**as_of=2026-01-01*")
    assert "No release of planner was current" in page.get_by_test_id("as-of-summary").inner_text()

    page.get_by_role("button", name="Now").click()
    page.wait_for_url("**/releases/planner/")
    assert page.get_by_test_id("as-of-summary").count() == 0
