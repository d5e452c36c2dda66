"""Finding 12: the review pages follow and render a `next` only when it stays on this site."""

import pytest
from django.test import Client

from enhancelog.models import Review

pytestmark = pytest.mark.django_db

QUEUE = "/admin/enhancelog/unreviewedrejection/"
REVIEW = "/admin/enhancelog/enhanceentry/review/"
OFFSITE = ["/\\evil.example/", "//evil.example", "https://evil.example", "javascript:alert(1)", "http:///evil.example"]


@pytest.fixture
def reviewer(make_user):
    user = make_user("next-rita", roles=["reader", "reviewer"])
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rejected(make_enhance):
    return make_enhance(issue_id="next-1", status="rejected")


@pytest.mark.parametrize("target", OFFSITE)
def test_the_admin_review_pages_cancel_link_stays_on_the_site(reviewer, rejected, target):
    page = reviewer.get(REVIEW, {"ids": rejected.pk, "next": target})
    assert page.status_code == 200
    assert page.context["back"] == QUEUE
    assert f'href="{QUEUE}">Cancel</a>' in page.content.decode()
    assert "evil.example" not in page.content.decode()


@pytest.mark.parametrize("target", OFFSITE)
def test_the_admin_review_redirects_to_the_queue_instead_of_off_site(reviewer, rejected, target):
    done = reviewer.post(REVIEW + f"?ids={rejected.pk}&next={target}", {"decision": "acknowledged"})
    assert done.status_code == 302
    assert done["Location"] == QUEUE
    assert Review.objects.filter(entry=rejected).count() == 1


@pytest.mark.parametrize("target", OFFSITE)
def test_record_review_redirects_to_the_entry_instead_of_off_site(reviewer, rejected, target):
    done = reviewer.post("/enhances/entries/next-1/review/", {"decision": "acknowledged", "next": target})
    assert done.status_code == 302
    assert done["Location"] == "/enhances/entries/next-1/"


def test_a_bare_word_as_next_is_a_relative_url_not_a_server_error(reviewer, rejected):
    done = reviewer.post("/enhances/entries/next-1/review/", {"decision": "acknowledged", "next": "nowhere"})
    assert done.status_code == 302
    assert done["Location"] == "nowhere"


def test_a_next_on_this_site_is_still_followed(reviewer, rejected):
    done = reviewer.post(
        "/enhances/entries/next-1/review/", {"decision": "acknowledged", "next": "/enhances/?window=7"}
    )
    assert done["Location"] == "/enhances/?window=7"
    page = reviewer.get(REVIEW, {"ids": rejected.pk, "next": QUEUE + "?age=7d"})
    assert page.context["back"] == QUEUE + "?age=7d"


def test_a_secure_request_is_sent_back_only_to_https(reviewer, rejected):
    page = reviewer.get(REVIEW, {"ids": rejected.pk, "next": "http://testserver/enhances/"}, secure=True)
    assert page.context["back"] == QUEUE
    page = reviewer.get(REVIEW, {"ids": rejected.pk, "next": "https://testserver/enhances/"}, secure=True)
    assert page.context["back"] == "https://testserver/enhances/"
