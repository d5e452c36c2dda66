"""The enhance log's REST API: the seed's behaviour over HTTP, validation, filters, traces and reviews."""

import json

import pytest

from enhancelog.models import EnhanceEntry, Review
from enhancelog.tests.conftest import entry_json

pytestmark = pytest.mark.django_db

URL = "/api/v1/enhances/"


def seed_part(row):
    return {key: value for key, value in row.items() if key != "ledger"}


def test_it_returns_the_appended_entry_unchanged_with_its_ledger_block(writer_api):
    sent = entry_json("i1", "bp-1", 100)
    created = writer_api.post(URL, sent, format="json")
    assert created.status_code == 201, created.data
    got = writer_api.get(f"{URL}i1/")
    assert got.status_code == 200
    # The seed's fields unchanged, plus the tenant the API gained (none here).
    assert seed_part(got.json()) == {**sent, "tenant_id": None}
    assert got.json()["ledger"]["seq"] == 1
    assert got.json()["ledger"]["recorded_by"] == "alice"
    assert len(got.json()["ledger"]["entry_hash"]) == 64


def test_it_answers_404_with_a_detail_for_a_missing_issue(reader_api):
    response = reader_api.get(f"{URL}nope/")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_a_second_append_of_an_issue_is_a_409_with_the_stored_entry(writer_api):
    first = entry_json("i2", ts_ms=200)
    writer_api.post(URL, first, format="json")
    replay = writer_api.post(URL, first, format="json")
    assert replay.status_code == 409
    assert replay.json()["identical"] is True
    assert seed_part(replay.json()["existing"]) == {**first, "tenant_id": None}
    clash = writer_api.post(URL, {**first, "intent": "different"}, format="json")
    assert clash.status_code == 409
    assert clash.json()["identical"] is False
    assert "i2" in clash.json()["detail"]
    assert seed_part(writer_api.get(f"{URL}i2/").json()) == {**first, "tenant_id": None}


def test_it_lists_by_blueprint_ascending_by_ts(writer_api):
    for issue, bp, ts in [("ib1", "bp-a", 300), ("ib2", "bp-a", 100), ("ib3", "bp-b", 200)]:
        assert writer_api.post(URL, entry_json(issue, bp, ts), format="json").status_code == 201
    a_only = writer_api.get(URL, {"blueprint_id": "bp-a"}).json()["results"]
    assert [row["issue_id"] for row in a_only] == ["ib2", "ib1"]
    b_only = writer_api.get(URL, {"blueprint_id": "bp-b"}).json()["results"]
    assert [row["issue_id"] for row in b_only] == ["ib3"]


def test_it_lists_everything_ascending_by_ts_across_pages(writer_api):
    for issue, ts in [("a", 500), ("b", 100), ("c", 300), ("d", 300), ("e", 50)]:
        writer_api.post(URL, entry_json(issue, "bp-x", ts), format="json")
    seen, url = [], f"{URL}?page_size=2"
    while url:
        page = writer_api.get(url).json()
        seen += [row["issue_id"] for row in page["results"]]
        url = page["next"]
    assert seen == ["e", "b", "c", "d", "a"]


def test_it_lists_each_entry_exactly_as_its_own_page_shows_it(writer_api, reader_api):
    for issue, ts in [("p1", 300), ("p2", 100), ("p3", 200)]:
        body = {**entry_json(issue, "bp-p", ts), "reasons": ["a", "b"], "rationale": "why\u00e9"}
        assert writer_api.post(URL, body, format="json").status_code == 201
    listed = reader_api.get(URL, {"blueprint_id": "bp-p", "page_size": 2}).json()
    rows = listed["results"] + reader_api.get(listed["next"]).json()["results"]
    assert rows == [reader_api.get(f"{URL}{row['issue_id']}/").json() for row in rows]
    assert [row["issue_id"] for row in rows] == ["p2", "p3", "p1"]


def test_a_list_page_builds_no_model_instances(reader_api, make_enhance, monkeypatch):
    for issue in ("m1", "m2"):
        make_enhance(issue_id=issue, blueprint_id="bp-m")

    def refuse(*args, **kwargs):
        raise AssertionError("a list page built an EnhanceEntry")

    # The serializer reads columns only: the page's rows are plain rows, as an export's are.
    monkeypatch.setattr(EnhanceEntry, "from_db", classmethod(refuse))
    response = reader_api.get(URL, {"blueprint_id": "bp-m"})
    assert response.status_code == 200
    assert [row["issue_id"] for row in response.json()["results"]] == ["m1", "m2"]


def test_a_rejected_entry_keeps_its_reasons_and_empty_new_hash(writer_api):
    sent = entry_json("ir", "bp-r", 400, status="rejected", reasons=["des: blueprint.id missing", "noop: ..."])
    assert writer_api.post(URL, sent, format="json").status_code == 201
    got = writer_api.get(f"{URL}ir/").json()
    assert got["status"] == "rejected"
    assert got["reasons"] == ["des: blueprint.id missing", "noop: ..."]
    assert got["new_hash"] == ""


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"status": "merged"}, "status", "not a valid choice"),
        ({"verdicts": [{"axis": "des", "status": "ok", "detail": ""}]}, "verdicts", "not a valid choice"),
        ({"new_hash": "abc"}, "new_hash", "64 lowercase hex"),
        ({"new_hash": "F" * 63 + "G"}, "new_hash", "64 lowercase hex"),
        ({"prev_hash": ""}, "prev_hash", "blank"),
        ({"status": "rejected", "new_hash": "ab" * 32, "reasons": ["des: x"]}, "new_hash", "new_hash must be"),
        ({"status": "rejected", "new_hash": "", "verdicts": [], "reasons": []}, "non_field_errors", "deny verdict"),
        ({"ts_ms": "soon"}, "ts_ms", "valid integer"),
        ({"verdicts": [{"axis": "des", "status": "pass", "detail": "", "score": 3}]}, "verdicts", "Unknown"),
        ({"ledger": {"seq": 9}}, "ledger", "set by the server"),
    ],
)
def test_it_rejects_bad_entries_with_a_400_that_says_why(writer_api, overrides, field, words):
    response = writer_api.post(URL, entry_json("bad", **overrides), format="json")
    assert response.status_code == 400, response.data
    body = response.json()
    assert field in body
    assert words in json.dumps(body[field])
    assert words in body["detail"] or field in body["detail"]
    assert not EnhanceEntry.objects.exists()


def test_a_missing_field_is_named_in_the_400(writer_api):
    sent = entry_json("i-missing")
    del sent["blueprint_id"]
    response = writer_api.post(URL, sent, format="json")
    assert response.status_code == 400
    assert "blueprint_id" in response.json()["detail"]


def test_a_batch_is_all_or_nothing_and_names_the_bad_item(writer_api):
    good = entry_json("b1")
    bad = entry_json("b2", status="rejected", verdicts=[], reasons=[])
    response = writer_api.post(f"{URL}batch/", [good, bad], format="json")
    assert response.status_code == 400
    assert response.json()["items"][0]["index"] == 1
    assert not EnhanceEntry.objects.exists()
    response = writer_api.post(f"{URL}batch/", [good, entry_json("b3", status="rejected")], format="json")
    assert response.status_code == 201
    assert [row["ledger"]["seq"] for row in response.json()] == [1, 2]


def test_a_batch_repeating_a_stored_issue_is_a_409_and_stores_nothing(writer_api, make_enhance):
    make_enhance(issue_id="b1")
    response = writer_api.post(f"{URL}batch/", [entry_json("b0"), entry_json("b1")], format="json")
    assert response.status_code == 409
    assert response.json()["index"] == 1
    assert EnhanceEntry.objects.count() == 1


def test_readers_cannot_append_and_strangers_cannot_read(reader_api, anon_api):
    assert reader_api.post(URL, entry_json("x"), format="json").status_code == 403
    assert anon_api.get(URL).status_code in (401, 403)


def test_entries_cannot_be_changed_over_the_api(writer_api, make_enhance):
    make_enhance(issue_id="fixed")
    for method in ("put", "patch", "delete"):
        assert getattr(writer_api, method)(f"{URL}fixed/", entry_json("fixed"), format="json").status_code == 405


def test_the_list_filters_combine(reader_api, make_enhance, make_review):
    make_enhance(issue_id="a1", blueprint_id="bp-a", ts_ms=100, intent="speed up planner")
    r1 = make_enhance(
        issue_id="r1",
        blueprint_id="bp-a",
        ts_ms=200,
        status="rejected",
        verdicts=[
            {"axis": "des", "status": "pass", "detail": "ok"},
            {"axis": "noop", "status": "deny", "detail": "hash unchanged"},
        ],
        reasons=["noop: hash unchanged"],
    )
    make_enhance(issue_id="r2", blueprint_id="bp-b", ts_ms=300, status="rejected")
    make_review(r1)

    def ids(**params):
        response = reader_api.get(URL, params)
        assert response.status_code == 200, response.data
        return [row["issue_id"] for row in response.json()["results"]]

    assert ids(status="rejected") == ["r1", "r2"]
    assert ids(blueprint_id="bp-a", status="rejected") == ["r1"]
    assert ids(axis="des") == ["a1", "r1", "r2"]
    assert ids(axis="noop") == ["r1"]
    assert ids(denied_axis="des") == ["r2"]
    assert ids(denied_axis="noop") == ["r1"]
    assert ids(since_ms=200) == ["r1", "r2"]
    assert ids(since_ms=100, until_ms=299) == ["a1", "r1"]
    assert ids(since_ms=100, until_ms=300) == ["a1", "r1", "r2"]  # both bounds inclusive
    assert ids(reviewed="true") == ["r1"]
    assert ids(reviewed="false", status="rejected") == ["r2"]
    assert ids(q="HASH UNCHANGED") == ["r1"]
    assert ids(q="planner") == ["a1"]
    assert reader_api.get(URL, {"since_ms": "yesterday"}).status_code == 400


def test_the_list_exports_jsonl_and_csv(reader_api, make_enhance):
    make_enhance(issue_id="e1", ts_ms=2)
    make_enhance(issue_id="e2", ts_ms=1, status="rejected")
    jsonl = reader_api.get(URL, {"format": "jsonl"})
    lines = b"".join(jsonl.streaming_content).decode().splitlines()
    assert [json.loads(line)["issue_id"] for line in lines] == ["e2", "e1"]
    csv_text = b"".join(reader_api.get(URL, {"format": "csv", "status": "rejected"}).streaming_content).decode()
    assert csv_text.splitlines()[0].startswith("issue_id,blueprint_id")
    assert len(csv_text.strip().splitlines()) == 2


def test_the_list_query_count_does_not_grow_with_the_page(reader_api, make_enhance, django_assert_max_num_queries):
    for n in range(30):
        make_enhance(issue_id=f"q{n}", ts_ms=n, status="rejected" if n % 3 else "applied")
    # session-less token auth, permissions, the unreviewed floor's two head lookups, the page
    with django_assert_max_num_queries(8):
        response = reader_api.get(URL, {"page_size": 30, "reviewed": "false", "status": "rejected"})
    assert len(response.json()["results"]) == 20


# --- blueprint trace ---------------------------------------------------------------------------


def test_the_trace_shows_versions_in_order_and_flags_breaks(reader_api, make_enhance):
    h = [f"{n:064x}" for n in range(1, 6)]
    make_enhance(issue_id="v2", blueprint_id="bp", ts_ms=20, prev_hash=h[1], new_hash=h[2])
    make_enhance(issue_id="v1", blueprint_id="bp", ts_ms=10, prev_hash=h[0], new_hash=h[1])
    make_enhance(issue_id="r1", blueprint_id="bp", ts_ms=25, status="rejected", prev_hash=h[2])
    make_enhance(issue_id="v3", blueprint_id="bp", ts_ms=30, prev_hash=h[3], new_hash=h[4])
    make_enhance(issue_id="other", blueprint_id="bp-other", ts_ms=1)
    body = reader_api.get("/api/v1/blueprints/bp/trace/").json()
    assert [row["issue_id"] for row in body["entries"]] == ["v1", "v2", "r1", "v3"]
    assert (body["applied"], body["rejected"], body["head_hash"]) == (3, 1, h[4])
    assert body["entries"][2]["review"] is None
    assert body["breaks"] == [
        {"issue_id": "v3", "seq": 4, "prev_hash": h[3], "expected_prev_hash": h[2], "after_issue_id": "v2"}
    ]


def test_an_unknown_blueprint_has_no_trace(reader_api):
    response = reader_api.get("/api/v1/blueprints/ghost/trace/")
    assert response.status_code == 404
    assert "ghost" in response.json()["detail"]


# --- reviews -----------------------------------------------------------------------------------


def reviews_url(issue_id):
    return f"{URL}{issue_id}/reviews/"


def test_a_reviewer_records_reviews_and_the_latest_is_the_state(reviewer_api, make_enhance):
    make_enhance(issue_id="rej", status="rejected")
    first = reviewer_api.post(
        reviews_url("rej"), {"decision": "needs_followup", "comment": "look again"}, format="json"
    )
    assert first.status_code == 201, first.data
    assert first.json()["reviewer"] == "carol"
    assert first.json()["issue_id"] == "rej"
    reviewer_api.post(reviews_url("rej"), {"decision": "false_positive"}, format="json")
    listed = reviewer_api.get(reviews_url("rej")).json()["results"]
    assert [row["decision"] for row in listed] == ["needs_followup", "false_positive"]
    assert EnhanceEntry.objects.with_review_state().get().review_decision == "false_positive"


def test_reviewing_needs_the_reviewer_role(writer_api, reader_api, make_enhance):
    make_enhance(issue_id="rej", status="rejected")
    for api in (writer_api, reader_api):
        response = api.post(reviews_url("rej"), {"decision": "acknowledged"}, format="json")
        assert response.status_code == 403
    assert reader_api.get(reviews_url("rej")).status_code == 200
    assert not Review.objects.exists()


def test_an_applied_entry_cannot_be_reviewed(reviewer_api, make_enhance):
    make_enhance(issue_id="good")
    response = reviewer_api.post(reviews_url("good"), {"decision": "acknowledged"}, format="json")
    assert response.status_code == 409
    assert "applied" in response.json()["detail"]
    assert not Review.objects.exists()


def test_a_review_needs_a_known_decision_and_an_existing_entry(reviewer_api, make_enhance):
    make_enhance(issue_id="rej", status="rejected")
    bad = reviewer_api.post(reviews_url("rej"), {"decision": "meh"}, format="json")
    assert bad.status_code == 400
    assert "decision" in bad.json()
    spoofed = reviewer_api.post(reviews_url("rej"), {"decision": "acknowledged", "reviewer": "mallory"}, format="json")
    assert spoofed.status_code == 400
    assert "reviewer" in spoofed.json()
    assert reviewer_api.post(reviews_url("ghost"), {"decision": "acknowledged"}, format="json").status_code == 404
    assert not Review.objects.exists()
