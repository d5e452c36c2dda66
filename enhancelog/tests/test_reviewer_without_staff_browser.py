"""A reviewer without staff rights (a login made by `add_user`) reviews a rejection from the product pages."""

import io
import re

import pytest
from django.core.management import call_command

from enhancelog.models import Review
from enhancelog.stats import now_ms

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_made_with_add_user_reviews_from_the_entry_page(page, make_enhance):
    now = now_ms()
    make_enhance(issue_id="ISS-7", blueprint_id="coding", ts_ms=now - 5000, status="rejected")
    make_enhance(issue_id="ISS-9", blueprint_id="coding", ts_ms=now)
    out = io.StringIO()
    call_command("add_user", "rita", "--role", "reviewer", stdout=out)
    password = re.search(r"password: (\S+)", out.getvalue()).group(1)

    page.goto("/accounts/login/")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)

    page.goto("/enhances/")
    assert page.get_by_test_id("backlog").inner_text() == "1"
    page.get_by_test_id("backlog").click()
    page.wait_for_url("**/enhances/entries/?status=rejected&reviewed=false")
    page.get_by_role("link", name="ISS-7").click()
    page.wait_for_url("**/enhances/entries/ISS-7/")
    form = page.get_by_test_id("review-form")
    form.locator("input[name=decision][value=false_positive]").check()
    form.locator("textarea[name=comment]").fill("expected for this blueprint")
    form.get_by_role("button", name="Record review").click()
    page.wait_for_url("**/enhances/entries/ISS-7/")
    assert "Review recorded for ISS-7" in page.content()
    assert page.get_by_test_id("review-state").inner_text().lower() == "false positive"

    review = Review.objects.get()
    assert (review.entry.issue_id, review.decision, review.recorded_by_name) == ("ISS-7", "false_positive", "rita")
