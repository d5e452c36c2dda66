"""The shared API behaviour every ledger inherits, exercised through the test-only ledger."""

import csv
import io
import json

import pytest
from django.test import override_settings

from tests.ledger_testapp.models import Note

pytestmark = pytest.mark.django_db


def test_it_appends_over_rest_and_returns_the_ledger_block(writer_api):
    response = writer_api.post("/api/v1/notes/", {"key": "n1", "body": {"a": 1}}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["key"] == "n1"
    assert set(body["ledger"]) == {"seq", "recorded_at", "recorded_by", "prev_entry_hash", "entry_hash"}
    assert body["ledger"]["recorded_by"] == "alice"
    assert body["ledger"]["recorded_at"].endswith("Z")
    assert writer_api.get("/api/v1/notes/n1/").json() == body


def test_a_repeated_key_is_409_with_the_stored_entry_and_identical(writer_api):
    first = writer_api.post("/api/v1/notes/", {"key": "n1", "body": {"a": 1}}, format="json").json()
    replay = writer_api.post("/api/v1/notes/", {"key": "n1", "body": {"a": 1}}, format="json")
    clash = writer_api.post("/api/v1/notes/", {"key": "n1", "body": {"a": 2}}, format="json")
    assert replay.status_code == clash.status_code == 409
    assert replay.json()["identical"] is True and clash.json()["identical"] is False
    assert clash.json()["existing"] == first
    assert "already exists" in clash.json()["detail"]
    assert Note.objects.get(key="n1").body == {"a": 1}


@pytest.mark.parametrize("field", ["ledger", "seq", "recorded_at", "recorded_by", "prev_entry_hash", "entry_hash"])
def test_server_owned_fields_sent_by_a_client_are_refused(writer_api, field):
    response = writer_api.post("/api/v1/notes/", {"key": "n1", field: "x"}, format="json")
    assert response.status_code == 400
    assert field in response.json() and field in response.json()["detail"]
    assert not Note.objects.exists()


def test_validation_errors_name_the_field_in_detail(writer_api):
    response = writer_api.post("/api/v1/notes/", {"body": {}}, format="json")
    assert response.status_code == 400
    assert response.json()["key"] == ["This field is required."]
    assert "key" in response.json()["detail"]


def test_a_model_rule_failure_is_a_400_not_a_500(writer_api):
    response = writer_api.post("/api/v1/notes/", {"key": "n", "count": -3}, format="json")
    assert response.status_code == 400
    assert response.json()["count"] == ["count must not be negative"]


@pytest.mark.parametrize("payload", ["not json", "[1, 2", '{"key": NaN}'])
def test_malformed_json_is_a_400(writer_api, payload):
    response = writer_api.generic("POST", "/api/v1/notes/", payload, content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_a_batch_is_atomic_and_names_each_rejected_item(writer_api):
    batch = [{"key": "a"}, {"body": {}}, {"key": "c", "entry_hash": "0" * 64}]
    response = writer_api.post("/api/v1/notes/batch/", batch, format="json")
    assert response.status_code == 400
    assert [item["index"] for item in response.json()["items"]] == [1, 2]
    assert "item 1" in response.json()["detail"] and "nothing was stored" in response.json()["detail"]
    assert not Note.objects.exists()


def test_a_batch_is_appended_in_order(writer_api):
    response = writer_api.post("/api/v1/notes/batch/", [{"key": f"k{i}"} for i in range(3)], format="json")
    assert response.status_code == 201
    assert [entry["ledger"]["seq"] for entry in response.json()] == [1, 2, 3]


def test_a_batch_with_a_conflict_is_a_409_naming_the_index(writer_api):
    writer_api.post("/api/v1/notes/", {"key": "k1"}, format="json")
    response = writer_api.post("/api/v1/notes/batch/", [{"key": "k0"}, {"key": "k1"}], format="json")
    assert response.status_code == 409
    assert response.json()["index"] == 1
    assert Note.objects.count() == 1


@pytest.mark.parametrize("payload", [{}, [], "x"])
def test_a_batch_must_be_a_non_empty_array(writer_api, payload):
    response = writer_api.post("/api/v1/notes/batch/", payload, format="json")
    assert response.status_code == 400 and "detail" in response.json()


def test_lists_are_cursor_paginated_with_a_capped_page_size(writer_api, make_note):
    for i in range(5):
        make_note(f"k{i}")
    page = writer_api.get("/api/v1/notes/?page_size=2").json()
    assert [e["key"] for e in page["results"]] == ["k0", "k1"] and page["previous"] is None
    second = writer_api.get(page["next"]).json()
    assert [e["key"] for e in second["results"]] == ["k2", "k3"]
    assert writer_api.get("/api/v1/notes/?page_size=5000").json()["next"] is None


def test_filters_apply_to_lists_and_exports(writer_api, make_note):
    make_note("a", topic="x")
    make_note("b", topic="y")
    assert [e["key"] for e in writer_api.get("/api/v1/notes/?topic=y").json()["results"]] == ["b"]
    lines = writer_api.get("/api/v1/notes/?topic=y&format=jsonl").getvalue().decode().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["b"]


def test_jsonl_export_streams_every_entry_past_one_page(writer_api):
    Note.objects.append_many([{"key": f"k{i}"} for i in range(250)])
    response = writer_api.get("/api/v1/notes/?format=jsonl&page_size=10")
    assert response.streaming
    assert response["Content-Type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [row["ledger"]["seq"] for row in rows] == list(range(1, 251))


def test_csv_export_flattens_the_ledger_block(writer_api, make_note):
    make_note("a", body={"x": 1})
    response = writer_api.get("/api/v1/notes/?format=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["key"] == "a" and rows[0]["ledger.seq"] == "1" and len(rows[0]["ledger.entry_hash"]) == 64


def test_a_missing_entry_is_404_with_detail(reader_api):
    response = reader_api.get("/api/v1/notes/nope/")
    assert response.status_code == 404 and response.json()["detail"]


@override_settings(LEDGER_MAX_REQUEST_BYTES=2048)
def test_a_body_over_the_limit_is_413_and_stores_nothing(writer_api):
    response = writer_api.post("/api/v1/notes/", {"key": "big", "body": {"text": "x" * 5000}}, format="json")
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert not Note.objects.exists()


def test_the_ledgers_endpoint_lists_size_head_and_last_check(reader_api, make_note):
    make_note()
    note = make_note()
    ledgers = {item["name"]: item for item in reader_api.get("/api/v1/ledgers/").json()}
    assert ledgers["testnotes"]["size"] == 2
    assert ledgers["testnotes"]["head_entry_hash"] == note.entry_hash
    assert ledgers["testnotes"]["last_check"] is None


def test_an_auditor_verifies_a_ledger_over_the_api(auditor_api, make_note):
    make_note()
    response = auditor_api.get("/api/v1/ledgers/testnotes/verify/")
    assert response.json() == {
        "ok": True,
        "checked": 1,
        "first_bad_seq": None,
        "reason": "",
        "checkpoints_checked": 0,
        "bad_checkpoint": None,
        "recorded": False,
    }
    assert auditor_api.get("/api/v1/ledgers/nope/verify/").status_code == 404


def test_a_reader_cannot_verify(reader_api):
    assert reader_api.get("/api/v1/ledgers/testnotes/verify/").status_code == 403


def test_the_openapi_schema_describes_every_api(reader_api, anon_api):
    response = reader_api.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert "/api/v1/ledgers/" in paths and "/api/v1/notes/batch/" in paths
    assert anon_api.get("/api/schema/").status_code in (401, 403)


def test_the_swagger_ui_is_served_offline(client, bob):
    client.force_login(bob)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content and b"cdn" not in response.content.lower()


@pytest.mark.parametrize("depth", [65, 5000])
def test_json_nested_too_deeply_is_a_400_not_a_500(writer_api, depth):
    body = '{"key": "deep", "body": ' + '{"a":' * depth + "1" + "}" * depth + "}"
    response = writer_api.generic("POST", "/api/v1/notes/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]
    assert not Note.objects.exists()


def test_json_nested_within_the_bound_is_stored(writer_api):
    body = {"key": "ok"}
    inner = body["body"] = {}
    for _ in range(60):
        inner["a"] = {}
        inner = inner["a"]
    assert writer_api.post("/api/v1/notes/", body, format="json").status_code == 201


def test_the_ledger_list_streams_as_jsonl_and_csv(auditor_api, make_note):
    make_note()
    auditor_api.post("/api/v1/ledgers/testnotes/verify/")
    lines = auditor_api.get("/api/v1/ledgers/?format=jsonl").content.decode().splitlines()
    rows = {json.loads(line)["name"]: json.loads(line) for line in lines}
    assert rows["testnotes"]["last_check"]["checked_at"].endswith("Z")
    assert auditor_api.get("/api/v1/ledgers/?format=csv").status_code == 200


def test_an_unknown_api_path_is_a_json_404(reader_api):
    response = reader_api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert "no API endpoint" in response.json()["detail"]


def test_a_number_that_cannot_be_hashed_exactly_is_a_400_naming_the_field(writer_api):
    response = writer_api.post("/api/v1/notes/", {"key": "n", "body": {"big": 2**60}}, format="json")
    assert response.status_code == 400
    assert "2**53" in response.json()["body"][0]
    assert not Note.objects.exists()
