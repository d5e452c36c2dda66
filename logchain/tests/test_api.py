"""POST/GET /api/v1/logs/: one record or an array, the duplicate rule, filters, exports, the appender."""

import json

import pytest
from django.urls import reverse

from logchain.models import LogRecord

LIST = "/api/v1/logs/"
pytestmark = pytest.mark.django_db


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_a_writer_appends_one_record_in_the_seeds_shape(writer_api, log_fields):
    sent = log_fields(seq=1, node_id=100, daemon_id=7, level="Warn", message="disk at 91%")
    response = writer_api.post(LIST, sent, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {key: body[key] for key in sent} == sent
    assert body["ledger"]["seq"] == 1 and body["ledger"]["recorded_by"] == "alice"
    assert LogRecord.objects.get().node_seq == 1


def test_daemon_and_chain_pending_may_be_left_out(writer_api, log_fields):
    sent = log_fields()
    del sent["daemon_id"], sent["chain_pending"]
    body = writer_api.post(LIST, sent, format="json").json()
    assert body["daemon_id"] is None and body["chain_pending"] is False


def test_an_array_is_appended_atomically_in_order(writer_api, log_fields):
    batch = [log_fields(seq=seq, node_id=5) for seq in (1, 2, 3)]
    response = writer_api.post(LIST, batch, format="json")
    assert response.status_code == 201, response.content
    assert [item["seq"] for item in response.json()] == [1, 2, 3]
    assert list(LogRecord.objects.order_by("seq").values_list("node_seq", flat=True)) == [1, 2, 3]


def test_a_thousand_record_array_is_stored_in_one_request(writer_api, log_fields):
    batch = [log_fields(node_id=6, seq=seq) for seq in range(1, 1001)]
    response = writer_api.post(LIST, batch, format="json")
    assert response.status_code == 201, response.content[:300]
    assert list(LogRecord.objects.order_by("seq").values_list("node_seq", flat=True)) == list(range(1, 1001))


def test_an_array_with_one_bad_record_stores_nothing_and_names_it(writer_api, log_fields):
    batch = [log_fields(node_id=5), log_fields(node_id=5, level="Loud"), log_fields(node_id=5)]
    response = writer_api.post(LIST, batch, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["items"][0]["index"] == 1 and "level" in body["items"][0]["errors"]
    assert "item 1" in body["detail"]
    assert not LogRecord.objects.exists()


def test_an_array_that_repeats_a_stored_key_stores_nothing(writer_api, make_log, log_fields):
    make_log(node_id=5, seq=2)
    batch = [log_fields(node_id=5, seq=1), log_fields(node_id=5, seq=2, message="other")]
    response = writer_api.post(LIST, batch, format="json")
    assert response.status_code == 409
    assert response.json()["index"] == 1
    assert LogRecord.objects.count() == 1


def test_a_repeated_node_and_seq_is_a_409_with_the_stored_record(writer_api, log_fields):
    sent = log_fields(node_id=8, seq=3, message="original")
    writer_api.post(LIST, sent, format="json")
    response = writer_api.post(LIST, {**sent, "message": "changed"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["identical"] is False
    assert body["existing"]["message"] == "original"
    assert body["detail"]


def test_a_replay_from_a_restarted_sender_is_an_identical_409(writer_api, log_fields):
    sent = log_fields(node_id=8, seq=3)
    writer_api.post(LIST, sent, format="json")
    response = writer_api.post(LIST, sent, format="json")
    assert response.status_code == 409
    assert response.json()["identical"] is True
    assert LogRecord.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"level": "WARN"}, "level"),
        ({"seq": 0}, "seq"),
        ({"node_id": None}, "node_id"),
        ({"node_id": -1}, "node_id"),
        ({"ts_ms": 2**64}, "ts_ms"),
        ({"message": "x" * 65_537}, "message"),
        ({"chain_pending": "perhaps"}, "chain_pending"),
    ],
)
def test_it_refuses_a_malformed_record_with_a_400(writer_api, log_fields, change, field):
    response = writer_api.post(LIST, {**log_fields(), **change}, format="json")
    assert response.status_code == 400
    assert field in response.json() and response.json()["detail"]
    assert not LogRecord.objects.exists()


def test_it_refuses_a_record_without_a_node(writer_api, log_fields):
    sent = log_fields()
    del sent["node_id"]
    response = writer_api.post(LIST, sent, format="json")
    assert response.status_code == 400 and "node_id" in response.json()


@pytest.mark.parametrize("field", ["ledger", "recorded_at", "entry_hash", "prev_entry_hash", "recorded_by"])
def test_it_refuses_server_owned_fields(writer_api, log_fields, field):
    response = writer_api.post(LIST, {**log_fields(), field: "x"}, format="json")
    assert response.status_code == 400 and field in response.json()


def test_a_reader_cannot_append(reader_api, log_fields):
    assert reader_api.post(LIST, log_fields(), format="json").status_code == 403


def test_anonymous_callers_get_401(anon_api):
    assert anon_api.get(LIST).status_code == 401


def test_records_cannot_be_changed_or_deleted(writer_api, make_log):
    make_log(node_id=1, seq=1)
    url = "/api/v1/logs/1/1/"
    for method in ("put", "patch", "delete"):
        assert getattr(writer_api, method)(url, {}, format="json").status_code == 405


def test_one_record_is_read_by_node_and_seq(reader_api, make_log):
    make_log(node_id=4, seq=9, message="found me")
    assert reverse("logchain-api:logrecord-detail", kwargs={"node_id": 4, "seq": 9}) == "/api/v1/logs/4/9/"
    response = reader_api.get("/api/v1/logs/4/9/")
    assert response.status_code == 200 and response.json()["message"] == "found me"
    missing = reader_api.get("/api/v1/logs/4/10/")
    assert missing.status_code == 404 and missing.json()["detail"]
    malformed = reader_api.get("/api/v1/logs/four/9/")
    assert malformed.status_code == 404 and "whole numbers" in malformed.json()["detail"]
    assert reader_api.get(f"/api/v1/logs/{10**30}/9/").status_code == 404


def test_an_out_of_range_filter_value_finds_nothing_rather_than_failing(reader_api, make_log):
    make_log(node_id=4, seq=1)
    assert results(reader_api.get(LIST, {"node_id": 10**30})) == []


def test_the_list_is_in_append_order(reader_api, make_log):
    make_log(node_id=2, seq=5, ts_ms=300)
    make_log(node_id=1, seq=1, ts_ms=100)
    make_log(node_id=2, seq=6, ts_ms=200)
    rows = results(reader_api.get(LIST))
    assert [(row["node_id"], row["seq"]) for row in rows] == [(2, 5), (1, 1), (2, 6)]


def test_it_filters_by_node_and_daemon(reader_api, make_log):
    make_log(node_id=1, seq=1, daemon_id=7)
    make_log(node_id=1, seq=2, daemon_id=8)
    make_log(node_id=2, seq=1, daemon_id=7)
    assert [(r["node_id"], r["seq"]) for r in results(reader_api.get(LIST, {"node_id": 1}))] == [(1, 1), (1, 2)]
    assert [(r["node_id"], r["seq"]) for r in results(reader_api.get(LIST, {"daemon_id": 7}))] == [(1, 1), (2, 1)]
    both = results(reader_api.get(LIST, {"node_id": 1, "daemon_id": 8}))
    assert [(r["node_id"], r["seq"]) for r in both] == [(1, 2)]


def test_min_level_filters_by_the_seeds_order(reader_api, make_log):
    for seq, level in enumerate(["Trace", "Debug", "Info", "Warn", "Error"], start=1):
        make_log(seq=seq, level=level)
    assert [r["level"] for r in results(reader_api.get(LIST, {"min_level": "Warn"}))] == ["Warn", "Error"]
    assert [r["level"] for r in results(reader_api.get(LIST, {"min_level": "Debug"}))] == [
        "Debug",
        "Info",
        "Warn",
        "Error",
    ]
    assert [r["level"] for r in results(reader_api.get(LIST, {"level": "Info"}))] == ["Info"]


def test_an_unknown_min_level_is_a_400(reader_api):
    response = reader_api.get(LIST, {"min_level": "Loud"})
    assert response.status_code == 400 and "min_level" in response.json()


def test_it_filters_by_claimed_time_and_text(reader_api, make_log):
    make_log(seq=1, ts_ms=1000, message="gossip round 4")
    make_log(seq=2, ts_ms=2000, message="Replica lagging")
    make_log(seq=3, ts_ms=3000, message="replica caught up")
    window = results(reader_api.get(LIST, {"since_ms": 2000, "until_ms": 3000}))
    assert [r["seq"] for r in window] == [2, 3]
    assert [r["seq"] for r in results(reader_api.get(LIST, {"q": "REPLICA"}))] == [2, 3]
    assert [r["seq"] for r in results(reader_api.get(LIST, {"q": "replica", "until_ms": 2500}))] == [2]


def test_a_non_numeric_node_id_is_a_400(reader_api):
    response = reader_api.get(LIST, {"node_id": "alpha"})
    assert response.status_code == 400 and response.json()["detail"]


def test_the_list_query_count_does_not_grow_with_the_data(reader_api, make_log, django_assert_max_num_queries):
    for seq in range(1, 31):
        make_log(seq=seq)
    with django_assert_max_num_queries(6):
        assert len(results(reader_api.get(LIST, {"min_level": "Info", "page_size": 50}))) == 30


def test_it_exports_jsonl_and_csv(auditor_api, make_log):
    make_log(node_id=1, seq=1, message="one")
    make_log(node_id=1, seq=2, message="two, with a comma")
    jsonl = auditor_api.get(LIST, {"format": "jsonl"})
    assert jsonl.status_code == 200
    lines = [json.loads(line) for line in b"".join(jsonl.streaming_content).decode().splitlines()]
    assert [line["message"] for line in lines] == ["one", "two, with a comma"]
    csv_response = auditor_api.get(LIST, {"format": "csv", "min_level": "Info"})
    text = b"".join(csv_response.streaming_content).decode()
    assert text.splitlines()[0].startswith(
        "seq,ts_ms,level,daemon_id,node_id,message,chain_pending,tenant_id,ledger.seq"
    )
    assert '"two, with a comma"' in text


def test_the_appender_endpoint_shows_its_counts(reader_api, process_appender):
    from logchain.tests.conftest import fixture_record

    for seq in range(1, 56):
        process_appender.append(fixture_record(seq))
    response = reader_api.get("/api/v1/logs/appender/")
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "buffer"
    assert (body["capacity"], body["buffered"], body["dropped"], body["pending"]) == (50, 50, 5, 0)
    assert body["pid"] > 0
    from logchain.api import AppenderStatsSerializer

    assert set(body) == set(AppenderStatsSerializer().fields)  # the documented shape is the real one


def test_the_appender_endpoint_needs_read_access(make_user, client_for):
    nobody = client_for(make_user("nobody"))
    assert nobody.get("/api/v1/logs/appender/").status_code == 403
