"""Each crafted input that once reached a 500 now gets a 4xx with a `detail`, or a normal page."""

import json

import pytest
from django.test import Client

from ledgerproject.ledger.params import parse_instant, parse_int

pytestmark = pytest.mark.django_db

OUT_OF_CALENDAR = "0001-01-01T00:00:00%2B14:00"  # its UTC instant falls before year 1


@pytest.fixture
def root(make_user):
    return make_user("root", roles=["reader", "writer", "reviewer", "auditor"], superuser=True)


@pytest.fixture
def root_api(root, client_for):
    return client_for(root)


@pytest.fixture
def root_pages(root):
    client = Client()
    client.force_login(root)
    return client


def _refused(response, status=400):
    assert response.status_code == status, response.content[:300]
    assert response.json()["detail"]


def test_it_reads_only_ascii_integers_in_range():
    assert parse_int("42") == 42
    assert parse_int("-3") == -3
    assert parse_int("²") is None  # str.isdigit() says yes, int() says no
    assert parse_int("٣") is None
    assert parse_int("1e3") is None
    assert parse_int("99999999999999999999") is None
    assert parse_int("0", minimum=1) is None
    assert parse_int("11", maximum=10) is None
    assert parse_int(None) is None


def test_it_reads_only_instants_inside_the_calendar():
    assert parse_instant("2026-01-21T12:00:00+00:00").year == 2026
    assert parse_instant("2026-02-30T00:00:00+00:00") is None
    assert parse_instant("0001-01-01T00:00:00+14:00") is None
    assert parse_instant("9999-12-31T23:59:59-14:00") is None
    assert parse_instant("nonsense") is None


@pytest.mark.parametrize("name", ["chain_id", "correlation_id", "artifact_id", "trace_link_id", "tenant_id"])
def test_a_percent_sign_in_an_experience_id_filter_is_a_400(root_api, name):
    _refused(root_api.get(f"/api/v1/events/?{name}=%25"))
    _refused(root_api.get(f"/api/v1/events/?{name}=%25s"))


@pytest.mark.parametrize("url", ["/api/v1/events/?since=", "/api/v1/events/?until=", "/api/v1/releases/x/?as_of="])
def test_an_instant_outside_the_calendar_is_a_400_from_the_api(root_api, url):
    _refused(root_api.get(url + OUT_OF_CALENDAR))


def test_an_instant_outside_the_calendar_is_a_normal_page(root_pages):
    # SQLite's driver overflows converting it to UTC (a 400 says so); PostgreSQL compares it (200).
    response = root_pages.get(f"/events/?since={OUT_OF_CALENDAR}")
    assert response.status_code in (200, 400)


def test_a_digit_outside_ascii_in_a_limit_is_a_400(root_api):
    _refused(root_api.get("/api/v1/releases/planner/history/?limit=%C2%B2"))


def test_a_digit_outside_ascii_in_a_page_cursor_is_ignored(root_pages):
    # No release by that name: the page's own 404, not a 500 from int("²").
    assert root_pages.get("/releases/planner/?before=%C2%B2").status_code == 404
    assert root_pages.get("/enhances/entries/?before=1.%C2%B2").status_code == 200


def test_an_impossible_date_in_the_runs_page_cursor_is_ignored(root_pages):
    assert root_pages.get("/runs/?after=2026-02-30T00:00:00%2B00:00_1").status_code == 200


def test_a_lone_surrogate_in_a_json_body_is_a_400(root_api):
    # A choice field's error quotes the value back: the lone surrogate could not be encoded (a 500).
    body = '{"issue_id": "ISS-1", "status": "\\ud800"}'
    _refused(root_api.generic("POST", "/api/v1/enhances/", body, content_type="application/json"))
    _refused(root_api.generic("POST", "/api/v1/notes/", '{"key": "k\\u0000"}', content_type="application/json"))


def test_the_review_queue_has_no_offset_to_overflow(root_pages):
    # An ordinary changelist: a parameter it does not know is its own "?e=1" page, never an OFFSET.
    response = root_pages.get("/admin/enhancelog/unreviewedrejection/?offset=99999999999999999999999")
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    assert root_pages.get(response["Location"]).status_code == 200


def test_a_crafted_page_cursor_is_a_400_page_naming_the_cursor(root_pages):
    import base64

    forged = base64.urlsafe_b64encode(b'{"p":["2026-02-30T00:00:00+00:00",1],"r":0}').decode()
    for url in ("/runs/?cursor=" + forged, "/events/?cursor=%C2%B2", "/logs/?cursor=" + "A" * 3000):
        response = root_pages.get(url)
        assert response.status_code == 400, url
        assert "Invalid cursor" in response.content.decode()


def test_a_huge_id_in_the_review_form_shows_a_page(root_pages):
    response = root_pages.get("/admin/enhancelog/enhanceentry/review/?ids=99999999999999999999999,1")
    assert response.status_code in (200, 302)


def test_nul_in_a_path_or_a_query_is_a_400(root_api, root_pages):
    _refused(root_api.get("/api/v1/enhances/a%00b/"))
    _refused(root_api.get("/api/v1/enhances/?q=a%00b"))
    assert root_pages.get("/enhances/entries/a%00b/").status_code == 400


def test_a_deeply_nested_json_blob_shows_its_preview_as_stored(writer_api, root_pages):
    body = "[" * 16000 + "]" * 16000
    stored = writer_api.generic("POST", "/api/v1/blobs/", body.encode(), content_type="application/json")
    assert stored.status_code == 201, stored.content[:300]
    response = root_pages.get(f"/runs/blobs/{stored.json()['digest']}/")
    assert response.status_code == 200
    assert b"[[[[[[[[" in response.content


def test_options_on_the_api_docs_is_a_405(root_api):
    assert root_api.options("/api/docs/").status_code == 405


def test_a_chunked_body_is_411_on_every_route(root_api):
    for url in ("/api/v1/notes/", "/api/v1/runs/", "/api/v1/logs/batch/"):
        response = root_api.generic("POST", url, b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked")
        _refused(response, 411)


def test_an_empty_json_lines_answer_still_names_its_media_type(root_api):
    response = root_api.get("/api/v1/releases/nothing-here/history/?format=jsonl")
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Type"].startswith("application/x-ndjson")


def test_an_explicit_format_wins_over_the_accept_header(root_api):
    response = root_api.get("/api/v1/notes/?format=jsonl", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")


def test_an_error_is_json_whatever_format_was_asked(root_api):
    response = root_api.get("/api/v1/notes/missing/?format=csv")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["detail"]


def test_an_api_cursor_whose_position_is_not_a_number_is_a_400_naming_the_cursor(root_api):
    import base64

    # DRF decodes it (a position is any text), and the database then refuses "abc" for a seq: a 500 before.
    forged = base64.b64encode(b"p=abc").decode()
    for url in (f"/api/v1/enhances/?cursor={forged}", f"/api/v1/notes/?cursor={forged}", "/api/v1/runs/?cursor=%C2%B2"):
        response = root_api.get(url)
        assert response.status_code == 400, url
        assert response.json()["detail"] and "cursor" in response.json(), url
