"""A person logs in, sees every ledger on the home page, verifies one, and logs out (Chromium)."""

import pytest

from tests.ledger_testapp.models import Note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_auditor_logs_in_verifies_a_ledger_and_logs_out(page, login, dave):
    Note.objects.append(key="first", body={"text": "hello"})
    head = Note.objects.append(key="second")
    login(dave)
    card = page.locator("article[data-ledger=testnotes]")
    assert "2 entries" in card.inner_text()
    assert head.entry_hash[:16] in card.inner_text()
    assert "not yet verified" in card.inner_text()
    card.get_by_role("button", name="Verify now").click()
    page.wait_for_url("**/")
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
