"""The enhance log admin: read-only browsing, verdict tables, the review queue and the review page."""

import pytest
from django.test import Client

from enhancelog.models import Review
from enhancelog.stats import DAY_MS, now_ms

pytestmark = pytest.mark.django_db

QUEUE = "/admin/enhancelog/unreviewedrejection/"
REVIEW = "/admin/enhancelog/enhanceentry/review/"
CHANGELIST = "/admin/enhancelog/enhanceentry/"


def staff(make_user, name, roles):
    user = make_user(name, roles=roles)
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rita(make_user):
    """A staff reviewer: works the queue in the admin."""
    return staff(make_user, "rita", ["reader", "reviewer"])


@pytest.fixture
def sam(make_user):
    """Staff who may read but not review."""
    return staff(make_user, "sam", ["reader"])


@pytest.fixture
def rejections(make_enhance, make_review):
    now = now_ms()
    fresh = make_enhance(issue_id="fresh", blueprint_id="coding", ts_ms=now - 1000, status="rejected")
    noop = make_enhance(
        issue_id="noop-old",
        blueprint_id="design",
        ts_ms=now - 40 * DAY_MS,
        status="rejected",
        verdicts=[{"axis": "noop", "status": "deny", "detail": "hash unchanged"}],
        reasons=["noop: hash unchanged"],
    )
    done = make_enhance(issue_id="done", blueprint_id="coding", ts_ms=now - 500, status="rejected")
    applied = make_enhance(issue_id="fine", blueprint_id="coding", ts_ms=now)
    make_review(done, Review.ACKNOWLEDGED)
    return {"fresh": fresh, "noop": noop, "done": done, "applied": applied}


def queue_ids(response):
    assert response.status_code == 200
    return [entry.issue_id for entry in response.context["cl"].result_list]


def test_the_entry_admin_is_read_only_with_filters_and_search(rita, rejections, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        page = rita.get(CHANGELIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Add enhance entry" not in html
    assert "By denied by axis" in html and "By review" in html
    assert [
        e.issue_id for e in rita.get(CHANGELIST, {"reviewed": "no", "status": "rejected"}).context["cl"].result_list
    ] == [
        "fresh",
        "noop-old",
    ]
    assert [e.issue_id for e in rita.get(CHANGELIST, {"denied_axis": "noop"}).context["cl"].result_list] == ["noop-old"]
    assert [e.issue_id for e in rita.get(CHANGELIST, {"q": "design"}).context["cl"].result_list] == ["noop-old"]
    assert rita.post(f"{CHANGELIST}{rejections['fresh'].pk}/delete/").status_code == 403


def test_the_entry_page_shows_verdicts_as_a_table_not_json(rita, rejections):
    html = rita.get(f"{CHANGELIST}{rejections['noop'].pk}/change/").content.decode()
    assert '<table class="verdicts">' in html
    assert "<td>noop</td>" in html and "hash unchanged" in html
    assert '"axis"' not in html and "&quot;axis&quot;" not in html
    assert "Record a review" in html


def test_the_queue_lists_unreviewed_rejections_newest_first_and_filters(
    rita, rejections, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        page = rita.get(QUEUE)
    assert queue_ids(page) == ["fresh", "noop-old"]
    assert queue_ids(rita.get(QUEUE, {"q": "design"})) == ["noop-old"]
    assert queue_ids(rita.get(QUEUE, {"denied_axis": "des"})) == ["fresh"]
    assert queue_ids(rita.get(QUEUE, {"age": "7d"})) == ["fresh"]
    assert queue_ids(rita.get(QUEUE, {"age": "older30d"})) == ["noop-old"]
    html = page.content.decode()
    assert "hash unchanged" in html and "By denied by axis" in html and "By claimed age" in html
    # Reviewed rejections are the entries changelist's filter, not a mode of the queue.
    reviewed = rita.get(CHANGELIST, {"status": "rejected", "reviewed": "yes"}).context["cl"].result_list
    assert [e.issue_id for e in reviewed] == ["done"]


def test_the_queue_is_an_ordinary_changelist_without_an_offset_mode(rita, rejections):
    # An unknown parameter is the changelist's own "?e=1" (an incorrect lookup), never a deep OFFSET.
    refused = rita.get(QUEUE, {"offset": "999999999999999999999"})
    assert refused.status_code == 302 and refused["Location"].endswith("?e=1")
    assert rita.get("/admin/enhancelog/enhanceentry/queue/").status_code in (301, 302, 404)
    html = rita.get(QUEUE).content.decode()
    assert 'id="result_list"' in html and "Add unreviewed rejection" not in html
    assert rita.post(f"{QUEUE}{rejections['fresh'].pk}/delete/").status_code == 403


def test_the_queue_is_tenant_scoped(make_user, make_enhance):
    make_enhance(issue_id="mine", blueprint_id="bp", ts_ms=1, status="rejected", tenant_id="acme")
    make_enhance(issue_id="theirs", blueprint_id="bp", ts_ms=2, status="rejected", tenant_id="other")
    bound = make_user("acme-rita", roles=["reader", "reviewer"], tenants=["acme"])
    bound.is_staff = True
    bound.save()
    client = Client()
    client.force_login(bound)
    assert queue_ids(client.get(QUEUE)) == ["mine"]


def test_a_reviewer_records_a_decision_and_the_entry_leaves_the_queue(rita, rejections):
    fresh = rejections["fresh"]
    form = rita.get(REVIEW, {"ids": fresh.pk, "next": QUEUE})
    assert "blueprint.id missing" in form.content.decode()
    done = rita.post(f"{REVIEW}?ids={fresh.pk}&next={QUEUE}", {"decision": "needs_followup", "comment": "retry"})
    assert done.status_code == 302 and done["Location"] == QUEUE
    review = Review.objects.get(entry=fresh)
    assert (review.decision, review.comment, review.recorded_by_name) == ("needs_followup", "retry", "rita")
    assert queue_ids(rita.get(QUEUE)) == ["noop-old"]


def test_the_review_action_reviews_several_rejections_and_skips_applied_ones(rita, rejections):
    ids = [rejections[name].pk for name in ("fresh", "noop", "applied")]
    chosen = rita.post(CHANGELIST, {"action": "review_selected", "_selected_action": ids})
    assert chosen.status_code == 302
    target = chosen["Location"]
    assert target.startswith(REVIEW)
    assert str(rejections["applied"].pk) not in target.split("ids=")[1].split("&")[0].split("%2C")
    rita.post(target, {"decision": "wont_fix"})
    assert set(Review.objects.filter(decision="wont_fix").values_list("entry__issue_id", flat=True)) == {
        "fresh",
        "noop-old",
    }
    assert queue_ids(rita.get(QUEUE)) == []


def test_staff_without_the_reviewer_role_cannot_record_reviews(sam, rejections):
    page = sam.get(QUEUE)
    assert page.status_code == 200 and 'data-testid="review-fresh"' not in page.content.decode()
    assert sam.get(REVIEW, {"ids": rejections["fresh"].pk}).status_code == 403
    assert sam.post(f"{REVIEW}?ids={rejections['fresh'].pk}", {"decision": "acknowledged"}).status_code == 403
    assert Review.objects.count() == 1


def test_the_reviews_admin_lists_reviews_read_only(rita, rejections):
    page = rita.get("/admin/enhancelog/review/")
    assert page.status_code == 200
    assert "done" in page.content.decode()
    assert "Add review" not in page.content.decode()
