"""A person logs in, sees every ledger on the home page, verifies one, and logs out (Chromium)."""

import pytest

from tests.ledger_testapp.models import Note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_auditor_logs_in_verifies_a_ledger_and_logs_out(page, login, dave):
    Note.objects.append(key="first", body={"text": "hello"})
    head = Note.objects.append(key="second")
    login(dave)
    page.get_by_test_id("dashboard-card").filter(has_text="Integrity").get_by_role("link").click()
    page.wait_for_url("**/ledgers/")
    card = page.locator("article[data-ledger=testnotes]")
    assert "2 entries" in card.inner_text()
    assert head.entry_hash[:16] in card.inner_text()
    assert "not yet verified" in card.inner_text()
    card.get_by_role("button", name="Verify now").click()
    page.wait_for_url("**/ledgers/")
    assert "chain intact, 2 entries checked" in page.locator("[role=status]").inner_text()
    assert "intact" in page.locator("article[data-ledger=testnotes]").inner_text()
    page.get_by_test_id("logout").click()
    page.wait_for_url("**/accounts/login/**")
    page.goto("/")
    assert "/accounts/login/" in page.url


def test_a_wrong_password_keeps_the_visitor_out(page, bob):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert "didn't match" in page.locator("[role=alert]").inner_text()


def test_the_attention_list_leads_to_the_review_queue(page, login, make_user):
    from enhancelog.models import EnhanceEntry

    for issue in ("ISS-queue-1", "ISS-queue-2"):
        EnhanceEntry.objects.append(
            issue_id=issue,
            blueprint_id="bp-queue",
            prev_hash="a" * 64,
            new_hash="",
            status=EnhanceEntry.REJECTED,
            reasons=["denied by the safety axis"],
            ts_ms=1_700_000_000_000,
        )
    login(make_user("queue-reviewer", roles=["reviewer"]))
    item = page.locator("[data-testid=attention-item][data-key=unreviewed-rejections]")
    assert item.locator(".badge").inner_text() == "2"
    item.get_by_role("link").click()
    page.wait_for_url("**/enhances/entries/?status=rejected&reviewed=false")
    text = page.locator("main").inner_text()
    assert "ISS-queue-1" in text and "ISS-queue-2" in text
    # The activity charts were drawn by Chart.js from the JSON data (no inline script).
    page.goto("/")
    assert page.locator(".activity-chart canvas[data-ledger=enhancelog]").evaluate("c => c.width > 0")


def test_a_person_with_no_role_is_told_whom_to_ask(page, login, make_user):
    make_user("the-admin", superuser=True)
    login(make_user("newcomer"))
    assert "no role yet" in page.get_by_test_id("no-role").inner_text()
    assert "the-admin" in page.get_by_test_id("no-role").inner_text()
