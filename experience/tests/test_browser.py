"""The event timeline in a real browser: filtering by kinds, tenant and chain, then following a chain."""

import pytest

from experience.tests.conftest import valid_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def story(make_event):
    make_event("ProposalCreated", tenant_id="acme", event_id="p-1")
    make_event("BudgetExceeded", tenant_id="acme", event_id="b-1")
    make_event("OutcomeRecorded", tenant_id="globex", event_id="o-1")
    other_chain = {**valid_data("OutcomeRecorded"), "chain_id": "chain-9", "tokens": 7}
    make_event("OutcomeRecorded", data=other_chain, tenant_id="acme", event_id="o-2")
    make_event("PolicySnapshotCaptured", tenant_id="acme", event_id="s-1")


def shown(page):
    cards = page.locator("article.xp-event")
    return sorted(cards.nth(i).get_attribute("data-event-id") for i in range(cards.count()))


def test_a_reader_filters_the_timeline_and_opens_a_chain(page, login, bob, story):
    login(bob)
    page.goto("/events/")
    assert shown(page) == ["b-1", "o-1", "o-2", "p-1", "s-1"]

    # Two kinds at once.
    page.get_by_label("OutcomeRecorded").check()
    page.get_by_label("BudgetExceeded").check()
    page.get_by_test_id("apply-filters").click()
    page.wait_for_url("**/events/?*kind=*")
    assert shown(page) == ["b-1", "o-1", "o-2"]
    # The form keeps what was chosen.
    assert page.get_by_label("OutcomeRecorded").is_checked()
    assert not page.get_by_label("ProposalCreated").is_checked()
    # A budget event reads as resource / limit / observed, not JSON.
    budget = page.locator("article[data-event-id=b-1]")
    assert "tokens" in budget.inner_text() and "observed 2048 against a limit of 1024" in budget.inner_text()

    # Narrow by tenant, then by chain.
    page.get_by_label("Tenant").fill("acme")
    page.get_by_test_id("apply-filters").click()
    page.wait_for_url("**tenant_id=acme**")
    assert shown(page) == ["b-1", "o-2"]
    page.get_by_label("Chain").fill("chain-9")
    page.get_by_test_id("apply-filters").click()
    page.wait_for_url("**chain_id=chain-9**")
    assert shown(page) == ["o-2"]

    # A bad time shows what is wrong instead of failing.
    page.get_by_label("Since").fill("last tuesday")
    page.get_by_test_id("apply-filters").click()
    assert "since" in page.get_by_test_id("filter-errors").inner_text().lower()

    # From an event to its chain page, grouped by step with totals.
    page.goto("/events/?kind=OutcomeRecorded&chain_id=chain-9")
    page.locator("article[data-event-id=o-2]").get_by_title("chain").click()
    page.wait_for_url("**/events/chains/chain-9/")
    assert page.get_by_test_id("total-tokens").inner_text() == "7"
    assert page.locator("section.xp-step[data-step=Planning]").is_visible()
