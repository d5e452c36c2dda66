"""A reviewer works the review queue in a real browser: open it, record a decision, see the entry leave."""

import pytest

from enhancelog.models import Review
from enhancelog.stats import now_ms

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_clears_a_rejection_from_the_unreviewed_queue(page, login, make_user, make_enhance):
    reviewer = make_user("rita", roles=["reader", "reviewer"])
    reviewer.is_staff = True
    reviewer.save()
    now = now_ms()
    make_enhance(issue_id="ISS-7", blueprint_id="coding", ts_ms=now - 5000, status="rejected")
    make_enhance(
        issue_id="ISS-8",
        blueprint_id="design",
        ts_ms=now - 1000,
        status="rejected",
        verdicts=[{"axis": "noop", "status": "deny", "detail": "hash unchanged"}],
        reasons=["noop: hash unchanged"],
    )
    make_enhance(issue_id="ISS-9", blueprint_id="coding", ts_ms=now)

    login(reviewer)
    page.goto("/enhances/")
    assert page.get_by_test_id("backlog").inner_text() == "2"
    page.get_by_test_id("backlog").click()
    page.wait_for_url("**/admin/enhancelog/unreviewedrejection/")
    queue = page.locator("#result_list")
    assert queue.locator("tbody th a").all_inner_texts() == ["ISS-8", "ISS-7"]
    assert "noop: hash unchanged" in queue.inner_text()

    # The queue's filters are the admin's own list filters, and they keep to the queue.
    page.locator("#changelist-filter").get_by_role("link", name="noop").click()
    page.wait_for_url("**denied_axis=noop**")
    assert page.locator("#result_list tbody th a").all_inner_texts() == ["ISS-8"]
    page.goto("/admin/enhancelog/unreviewedrejection/")

    page.get_by_test_id("review-ISS-8").click()
    page.wait_for_url("**/enhanceentry/review/**")
    assert "hash unchanged" in page.locator("table.verdicts").inner_text()
    page.check("input[name=decision][value=false_positive]")
    page.fill("textarea[name=comment]", "the patch only touched comments on purpose")
    page.click("input[type=submit][value='Record review']")

    page.wait_for_url("**/admin/enhancelog/unreviewedrejection/")
    assert "Recorded false_positive for ISS-8" in page.locator(".messagelist").inner_text()
    assert page.locator("#result_list tbody th a").all_inner_texts() == ["ISS-7"]

    page.goto("/admin/enhancelog/enhanceentry/?status=rejected&reviewed=yes")
    assert "false_positive" in page.locator("#result_list").inner_text()

    review = Review.objects.get()
    assert (review.entry.issue_id, review.decision, review.recorded_by_name) == ("ISS-8", "false_positive", "rita")


def test_a_reader_pages_the_filtered_entry_list_both_ways_and_keeps_the_filter(page, login, make_user, make_enhance):
    reader = make_user("bob", roles=["reader"])
    for n in range(5):
        make_enhance(issue_id=f"R-{n}", blueprint_id="design & co", ts_ms=1000 + n, status="rejected")
        make_enhance(issue_id=f"A-{n}", blueprint_id="design & co", ts_ms=2000 + n)
    login(reader)
    page.goto("/enhances/entries/?status=rejected&blueprint_id=design+%26+co&page_size=2")
    shown = lambda: page.locator("tr[data-issue]").evaluate_all("rows => rows.map(r => r.dataset.issue)")  # noqa: E731
    assert shown() == ["R-4", "R-3"]

    page.get_by_test_id("older").click()
    page.wait_for_url("**cursor=**")
    assert shown() == ["R-2", "R-1"]
    page.get_by_test_id("older").click()
    page.wait_for_load_state()
    assert shown() == ["R-0"] and page.get_by_test_id("older").count() == 0
    # The filter travelled with every link, URL-encoded ("&" inside a value stays one value).
    assert "blueprint_id=design+%26+co" in page.url and "status=rejected" in page.url

    page.get_by_test_id("newer").click()
    page.wait_for_load_state()
    assert shown() == ["R-2", "R-1"]
    page.get_by_test_id("newest").click()
    page.wait_for_load_state()
    assert shown() == ["R-4", "R-3"] and page.get_by_test_id("newer").count() == 0
