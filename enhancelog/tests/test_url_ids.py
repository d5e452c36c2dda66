"""Finding 3: an issue or blueprint id with "/" is refused at append, and rows stored before that never break a page."""

import pytest
from django.test import Client

from enhancelog.models import EnhanceEntry
from enhancelog.stats import now_ms
from enhancelog.tests.conftest import entry_json
from ledgerproject.ledger import ids

pytestmark = pytest.mark.django_db

UNROUTABLE = ["a/b", "a\\b", ".", ".."]


@pytest.mark.parametrize("field", ["issue_id", "blueprint_id"])
@pytest.mark.parametrize("value", UNROUTABLE)
def test_it_refuses_an_id_no_route_can_carry_with_a_400_naming_the_field(writer_api, field, value):
    response = writer_api.post("/api/v1/enhances/", entry_json(**{field: value}), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert "detail" in body and field in body
    assert not EnhanceEntry.objects.exists()


def test_it_names_the_batch_item_whose_id_cannot_be_routed(writer_api):
    batch = [entry_json(issue_id="fine-1"), entry_json(issue_id="TKT/2")]
    response = writer_api.post("/api/v1/enhances/batch/", batch, format="json")
    assert response.status_code == 400
    assert "1" in str(response.json()) and "issue_id" in str(response.json())
    assert not EnhanceEntry.objects.exists()


def test_an_accepted_id_is_read_reviewed_and_traced_through_its_urls(writer_api, reader_api, make_user):
    stored = writer_api.post("/api/v1/enhances/", entry_json(issue_id="TKT 7?#%", blueprint_id="bp:ä"), format="json")
    assert stored.status_code == 201
    assert reader_api.get("/api/v1/enhances/TKT%207%3F%23%25/").status_code == 200
    assert reader_api.get("/api/v1/blueprints/bp%3A%C3%A4/trace/").status_code == 200
    page = Client()
    page.force_login(make_user("page-reader", roles=["reader"]))
    listing = page.get("/enhances/entries/")
    assert listing.status_code == 200
    assert 'href="/enhances/entries/TKT%207%3F%23%25/"' in listing.content.decode()
    assert page.get("/enhances/entries/TKT%207%3F%23%25/").status_code == 200


@pytest.fixture
def legacy_rows(make_enhance, monkeypatch):
    """Rows stored before the URL id rule: appended through the append path with the rule switched off."""
    with monkeypatch.context() as patch:
        patch.setattr(ids, "check_url_ids", lambda entry: None)
        now = now_ms()
        rows = {
            "slash_issue": make_enhance(issue_id="TKT/1", blueprint_id="good-bp", ts_ms=now - 3000, status="rejected"),
            "slash_blueprint": make_enhance(issue_id="TKT-2", blueprint_id="bp/x", ts_ms=now - 2000, status="rejected"),
            "fine": make_enhance(issue_id="TKT-3", blueprint_id="good-bp", ts_ms=now - 1000),
        }
    return rows


def test_pages_and_the_admin_queue_render_rows_whose_ids_cannot_be_routed(legacy_rows, make_user):
    reader = Client()
    reader.force_login(make_user("legacy-reader", roles=["reader"]))
    reviewer = make_user("legacy-rita", roles=["reader", "reviewer"])
    reviewer.is_staff = True
    reviewer.save()
    admin = Client()
    admin.force_login(reviewer)
    pages = [
        (reader, "/enhances/", ["bp/x"]),
        (reader, "/enhances/entries/", ["TKT/1", "bp/x"]),
        (reader, "/enhances/blueprints/good-bp/", ["TKT/1"]),
        (reader, "/enhances/entries/TKT-2/", ["bp/x"]),
        (admin, "/admin/enhancelog/unreviewedrejection/", ["bp/x"]),
        (admin, "/admin/enhancelog/enhanceentry/", ["TKT/1", "bp/x"]),
        (admin, f"/admin/enhancelog/enhanceentry/{legacy_rows['slash_issue'].pk}/change/", ["TKT/1"]),
    ]
    for client, url, shown in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        for value in shown:
            assert value in text, (url, value)
        # The routable rows keep their links; the others are shown as text.
        assert 'href="/enhances/entries/TKT/1/"' not in text
        assert 'href="/enhances/blueprints/bp/x/"' not in text
    listing = reader.get("/enhances/entries/").content.decode()
    assert 'href="/enhances/entries/TKT-3/"' in listing
    assert '<span class="unroutable" title="this id cannot be linked">TKT/1</span>' in listing


def test_the_api_still_lists_rows_whose_ids_cannot_be_routed(legacy_rows, reader_api):
    response = reader_api.get("/api/v1/enhances/")
    assert response.status_code == 200
    assert {row["issue_id"] for row in response.json()["results"]} == {"TKT/1", "TKT-2", "TKT-3"}
