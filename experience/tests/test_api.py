"""REST contract of the experience ledger: append, batch, query, export, artifacts, trace links, tenancy."""

import csv
import io
import json
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from experience.models import ExperienceEvent
from experience.tests.conftest import VALID, envelope, valid_data

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events/"
ARTIFACTS = "/api/v1/artifacts/"


def transitions_url(artifact_id):
    return f"/api/v1/artifacts/{artifact_id}/transitions/"


def lifecycle(from_state, to_state, tenant_id=None, **extra):
    return {
        "from_state": from_state,
        "to_state": to_state,
        "timestamp": "2026-01-21T12:00:00Z",
        "actor": "carol",
        "reason": "eval suite passed",
        "ticket_ref": None,
        "tenant_id": tenant_id,
        **extra,
    }


def post(api, body):
    return api.post(EVENTS, body, format="json")


# --- append -----------------------------------------------------------------------------------


def test_it_appends_an_envelope_and_returns_it_in_the_seeds_shape(writer_api):
    body = envelope("ProposalCreated")
    response = post(writer_api, body)
    assert response.status_code == 201, response.json()
    got = response.json()
    assert {k: got[k] for k in ("event_id", "occurred_at", "tenant_id", "correlation_id", "event")} == body
    assert got["ledger"]["seq"] == 1 and len(got["ledger"]["entry_hash"]) == 64
    assert got["ledger"]["recorded_by"] == "alice"


def test_it_mints_an_event_id_when_absent(writer_api):
    body = envelope()
    del body["event_id"]
    response = post(writer_api, body)
    assert response.status_code == 201
    assert len(response.json()["event_id"]) == 26


def test_a_missing_option_comes_back_as_null(writer_api):
    body = envelope()
    del body["tenant_id"], body["correlation_id"]
    got = post(writer_api, body).json()
    assert got["tenant_id"] is None and got["correlation_id"] is None


def test_a_malformed_payload_is_a_400_naming_the_path(writer_api):
    body = envelope("ProposalCreated")
    body["event"]["data"]["proposal"]["confidence"] = "very"
    response = post(writer_api, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid input: event.data.proposal.confidence: expected a number")
    assert "event.data.proposal.confidence" in response.json()
    assert ExperienceEvent.objects.count() == 0


def test_an_unknown_kind_is_a_400(writer_api):
    body = envelope()
    body["event"]["type"] = "GateDecisionRecorded"
    response = post(writer_api, body)
    assert response.status_code == 400
    assert "event.type" in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event": None}, "event"),
        ({"event": {"type": "OutcomeRecorded"}}, "event.data"),
        ({"event": {"data": {}}}, "event.type"),
        ({"event": {"type": "OutcomeRecorded", "data": {}, "extra": 1}}, "event.extra"),
        ({"occurred_at": None}, "occurred_at"),
        ({"occurred_at": 1700000000}, "occurred_at"),
        ({"occurred_at": "noon"}, "occurred_at"),
        ({"tenant_id": 7}, "tenant_id"),
        ({"event_id": "bad id"}, "event_id"),
        ({"surprise": True}, "surprise"),
        ({"ledger": {"seq": 9}}, "ledger"),
        ({"entry_hash": "0" * 64}, "entry_hash"),
    ],
)
def test_a_malformed_envelope_is_a_400_naming_the_field(writer_api, change, field):
    body = envelope()
    body.update(change)
    response = post(writer_api, body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["detail"]


def test_a_body_that_is_not_an_object_is_a_400(writer_api):
    assert post(writer_api, ["not", "an", "envelope"]).status_code == 400


def test_a_repeated_event_id_is_a_409_with_the_stored_entry(writer_api):
    body = envelope(event_id="evt-dup")
    assert post(writer_api, body).status_code == 201
    replay = post(writer_api, body)
    assert replay.status_code == 409
    assert replay.json()["identical"] is True
    assert replay.json()["existing"]["event_id"] == "evt-dup"
    clash = post(writer_api, envelope("BudgetExceeded", event_id="evt-dup"))
    assert clash.status_code == 409 and clash.json()["identical"] is False
    assert ExperienceEvent.objects.count() == 1


def test_a_reader_cannot_append_and_anonymous_is_refused(reader_api, anon_api):
    assert post(reader_api, envelope()).status_code == 403
    assert post(anon_api, envelope()).status_code == 401
    assert anon_api.get(EVENTS).status_code == 401


def test_entries_cannot_be_changed_over_the_api(writer_api):
    post(writer_api, envelope(event_id="evt-x"))
    for method in ("put", "patch", "delete"):
        assert getattr(writer_api, method)(f"{EVENTS}evt-x/", {}, format="json").status_code == 405


# --- batch --------------------------------------------------------------------------------------


def test_a_batch_is_appended_atomically(writer_api):
    response = writer_api.post(f"{EVENTS}batch/", [envelope(), envelope("BudgetExceeded")], format="json")
    assert response.status_code == 201
    assert [e["event"]["type"] for e in response.json()] == ["OutcomeRecorded", "BudgetExceeded"]


def test_a_batch_with_one_bad_item_stores_nothing_and_names_the_item(writer_api):
    bad = envelope("BudgetExceeded")
    bad["event"]["data"]["limit"] = 5
    response = writer_api.post(f"{EVENTS}batch/", [envelope(), bad], format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["items"][0]["index"] == 1
    assert "event.data.limit" in body["detail"]
    assert ExperienceEvent.objects.count() == 0


def test_a_batch_repeating_a_stored_event_id_is_a_409_and_stores_nothing(writer_api):
    post(writer_api, envelope(event_id="evt-1x"))
    response = writer_api.post(f"{EVENTS}batch/", [envelope(), envelope(event_id="evt-1x")], format="json")
    assert response.status_code == 409 and response.json()["index"] == 1
    assert ExperienceEvent.objects.count() == 1


# --- queries ---------------------------------------------------------------------------------


@pytest.fixture
def stored(make_event):
    make_event("ProposalCreated", event_id="e1", occurred_at="2026-01-21T10:00:00Z", correlation_id="run-1")
    make_event("OutcomeRecorded", event_id="e2", occurred_at="2026-01-21T11:00:00Z", tenant_id="globex")
    make_event("BudgetExceeded", event_id="e3", occurred_at="2026-01-21T12:00:00Z", correlation_id="run-2")
    data = {**valid_data("OutcomeRecorded"), "chain_id": "chain-2"}
    make_event("OutcomeRecorded", data=data, event_id="e4", occurred_at="2026-01-21T13:00:00+00:00")
    make_event("PolicySnapshotCaptured", event_id="e5", occurred_at="2026-01-21T14:00:00Z", tenant_id=None)


def ids(response):
    assert response.status_code == 200, response.json()
    return [e["event_id"] for e in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["e1", "e2", "e3", "e4", "e5"]),
        ("?tenant_id=globex", ["e2"]),
        ("?kind=OutcomeRecorded", ["e2", "e4"]),
        ("?kind=OutcomeRecorded&kind=BudgetExceeded", ["e2", "e3", "e4"]),
        ("?correlation_id=run-2", ["e3"]),
        ("?chain_id=chain-1", ["e1", "e2", "e3"]),
        ("?chain_id=chain-2", ["e4"]),
        ("?since=2026-01-21T11:00:00Z&until=2026-01-21T13:00:00Z", ["e2", "e3", "e4"]),
        ("?since=2026-01-21T12:00:00%2B01:00", ["e2", "e3", "e4", "e5"]),
        ("?until=2026-01-21T10:00:00Z", ["e1"]),
        ("?limit=2", ["e1", "e2"]),
        ("?kind=OutcomeRecorded&limit=1", ["e2"]),
        ("?proposal_id=prop-1", ["e1"]),
    ],
)
def test_it_filters_like_the_seeds_event_query(reader_api, stored, query, expected):
    assert ids(reader_api.get(EVENTS + query)) == expected


@pytest.mark.parametrize("query", ["?kind=OutcomeRecorded", "?kind=OutcomeRecorded&kind=BudgetExceeded"])
def test_it_pages_a_kind_without_select_distinct_so_an_index_serves_the_limit(reader_api, stored, query):
    with CaptureQueriesContext(connection) as captured:
        assert ids(reader_api.get(EVENTS + query))
    pages = [q["sql"] for q in captured.captured_queries if '"experience_experienceevent"."kind"' in q["sql"]]
    assert pages
    assert not any("DISTINCT" in sql for sql in pages), pages
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            try:
                for sql in pages:
                    cursor.execute("EXPLAIN " + sql)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                    assert "Unique" not in plan and "Seq Scan" not in plan, plan
            finally:
                cursor.execute("SET enable_seqscan = on")


@pytest.mark.parametrize("query", ["?kind=Nope", "?since=yesterday", "?limit=0", "?limit=ten"])
def test_a_bad_filter_is_a_400(reader_api, stored, query):
    response = reader_api.get(EVENTS + query)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_limit_caps_the_total_across_pages(reader_api, stored):
    first = reader_api.get(EVENTS + "?limit=3&page_size=2").json()
    assert [e["event_id"] for e in first["results"]] == ["e1", "e2"]
    second = reader_api.get(first["next"]).json()
    assert [e["event_id"] for e in second["results"]] == ["e3"]
    assert second["next"] is None


def test_it_exports_jsonl_and_csv_with_the_same_filters(reader_api, stored):
    response = reader_api.get(EVENTS + "?format=jsonl&kind=OutcomeRecorded")
    assert response.status_code == 200
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [line["event_id"] for line in lines] == ["e2", "e4"]
    assert lines[0]["event"]["data"]["tokens"] == 42
    response = reader_api.get(EVENTS + "?format=csv&limit=2")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["event_id"] for row in rows] == ["e1", "e2"]
    assert rows[0]["event.type"] == "ProposalCreated"
    # Kinds differ in payload; each row keeps its whole payload in one JSON column.
    assert json.loads(rows[0]["event.data"])["proposal"]["confidence"] == 0.87
    assert json.loads(rows[1]["event.data"])["tokens"] == 42
    assert rows[1]["ledger.seq"] == "2"


def test_it_gets_one_event_by_id(reader_api, stored):
    response = reader_api.get(f"{EVENTS}e3/")
    assert response.status_code == 200 and response.json()["event"]["type"] == "BudgetExceeded"
    assert reader_api.get(f"{EVENTS}nope/").status_code == 404


def test_the_list_query_count_does_not_grow_with_the_data(reader_api, make_event, django_assert_max_num_queries):
    for _ in range(30):
        make_event()
    with django_assert_max_num_queries(6):
        assert len(reader_api.get(EVENTS + "?kind=OutcomeRecorded&limit=25").json()["results"]) == 25


# --- tenancy --------------------------------------------------------------------------------


@pytest.fixture
def acme_api(make_user, client_for):
    return client_for(make_user("acme-bot", roles=["writer"], tenants=["acme"]))


def test_a_tenant_bound_principal_sees_only_its_tenants(acme_api, stored):
    assert ids(acme_api.get(EVENTS)) == ["e1", "e3", "e4"]
    assert ids(acme_api.get(EVENTS + "?tenant_id=globex")) == []
    assert acme_api.get(f"{EVENTS}e2/").status_code == 404
    export = b"".join(acme_api.get(EVENTS + "?format=jsonl").streaming_content).decode()
    assert "globex" not in export and export.count("\n") == 3


def test_a_tenant_bound_principal_writes_only_its_tenants(acme_api):
    assert post(acme_api, envelope(tenant_id="globex")).status_code == 404
    # Bound to one tenant: an envelope without a tenant lands in it.
    no_tenant = post(acme_api, envelope(tenant_id=None))
    assert no_tenant.status_code == 201 and no_tenant.json()["tenant_id"] == "acme"
    assert post(acme_api, envelope(tenant_id="acme")).status_code == 201
    assert sorted(ExperienceEvent.objects.values_list("tenant_id", flat=True)) == ["acme", "acme"]


# --- artifacts --------------------------------------------------------------------------------


def test_it_records_transitions_and_derives_the_current_state(writer_api):
    first = writer_api.post(
        transitions_url("adapter-x"),
        {"artifact_kind": "Adapter", "event": lifecycle("Draft", "Approved")},
        format="json",
    )
    assert first.status_code == 201, first.json()
    assert first.json()["event"]["type"] == "ArtifactStateTransitioned"
    assert first.json()["event"]["data"]["artifact_id"] == "adapter-x"
    assert first.json()["occurred_at"] == "2026-01-21T12:00:00Z"
    writer_api.post(
        transitions_url("adapter-x"),
        {"artifact_kind": "Adapter", "event": lifecycle("Approved", "Active")},
        format="json",
    )
    history = writer_api.get(transitions_url("adapter-x")).json()
    assert history["state"] == "Active"
    assert [t["event"]["data"]["event"]["to_state"] for t in history["transitions"]] == ["Approved", "Active"]
    rows = writer_api.get(ARTIFACTS).json()["results"]
    assert [(r["artifact_id"], r["state"]) for r in rows] == [("adapter-x", "Active")]


def test_a_transition_from_a_stale_state_is_a_409(writer_api):
    url = transitions_url("pack-1")
    writer_api.post(url, {"artifact_kind": "Pack", "event": lifecycle("Draft", "Approved")}, format="json")
    stale = writer_api.post(url, {"artifact_kind": "Pack", "event": lifecycle("Draft", "Deprecated")}, format="json")
    assert stale.status_code == 409
    assert stale.json()["current_state"] == "Approved"
    assert "from_state must be the current state" in stale.json()["detail"]


def test_a_transition_outside_the_lifecycle_table_is_a_409(writer_api):
    response = writer_api.post(
        transitions_url("pack-2"), {"artifact_kind": "Pack", "event": lifecycle("Draft", "Active")}, format="json"
    )
    assert response.status_code == 409
    assert "not in the artifact lifecycle" in response.json()["detail"]


def test_the_lifecycle_holds_for_transitions_posted_as_plain_events(writer_api):
    body = envelope("ArtifactStateTransitioned", tenant_id=None)
    body["event"]["data"]["event"]["from_state"] = "Active"
    body["event"]["data"]["event"]["to_state"] = "Deprecated"
    assert post(writer_api, body).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"artifact_kind": "Gizmo", "event": lifecycle("Draft", "Approved")}, "artifact_kind"),
        ({"artifact_kind": "Pack", "event": lifecycle("Draft", "Live")}, "event.to_state"),
        ({"artifact_kind": "Pack", "event": lifecycle("Draft", "Approved", timestamp="soon")}, "event.timestamp"),
        ({"artifact_kind": "Pack"}, "event"),
        ({"artifact_kind": "Pack", "event": lifecycle("Draft", "Approved"), "extra": 1}, "extra"),
    ],
)
def test_a_malformed_transition_is_a_400(writer_api, body, field):
    response = writer_api.post(transitions_url("pack-3"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_an_artifact_id_outside_the_id_rule_is_a_404(writer_api):
    assert writer_api.get(transitions_url("bad%20id")).status_code == 404


def test_artifacts_filter_by_kind_state_tenant_and_limit(writer_api, transition):
    transition("a1", "Draft", "Approved", tenant_id="acme", kind="Adapter")
    transition("a2", "Draft", "Deprecated", tenant_id="globex", kind={"Other": "Prompt"})
    transition("a3", "Draft", "Approved", tenant_id="acme", kind="EvalSuite")
    transition("a1", "Approved", "Active", tenant_id="acme", kind="Adapter")

    def artifact_ids(query):
        response = writer_api.get(ARTIFACTS + query)
        assert response.status_code == 200, response.json()
        return [r["artifact_id"] for r in response.json()["results"]]

    assert artifact_ids("") == ["a2", "a3", "a1"]
    assert artifact_ids("?state=Approved") == ["a3"]
    assert artifact_ids("?kind=Adapter") == ["a1"]
    assert artifact_ids("?kind=Other") == ["a2"]
    assert artifact_ids("?kind=Other(Prompt)") == ["a2"]
    assert artifact_ids("?tenant_id=acme") == ["a3", "a1"]
    assert artifact_ids("?artifact_id=a3") == ["a3"]
    assert artifact_ids("?limit=2") == ["a2", "a3"]
    assert writer_api.get(ARTIFACTS + "?state=Live").status_code == 400
    assert writer_api.get(ARTIFACTS + "?kind=Gizmo").status_code == 400


def test_the_artifact_list_query_count_does_not_grow_with_the_data(
    reader_api, transition, django_assert_max_num_queries
):
    for number in range(20):
        transition(f"art-{number}", "Draft", "Approved")
        transition(f"art-{number}", "Approved", "Active")
    with django_assert_max_num_queries(6):
        rows = reader_api.get(ARTIFACTS + "?state=Active&page_size=10").json()["results"]
    assert len(rows) == 10 and {r["state"] for r in rows} == {"Active"}


def test_rollback_records_are_shown_with_the_artifact(writer_api, transition, make_event):
    transition("adapter-legal-v2", "Draft", "Approved")
    make_event("ArtifactRollbackRecorded", tenant_id=None)
    history = writer_api.get(transitions_url("adapter-legal-v2")).json()
    assert len(history["rollbacks"]) == 1
    assert history["rollbacks"][0]["event"]["data"]["rollback"]["impact"]["severity"] == "High"


def test_another_tenants_artifact_answers_exactly_like_an_absent_one(acme_api, transition):
    transition("g1", "Draft", "Approved", tenant_id="globex")
    theirs, absent = acme_api.get(transitions_url("g1")), acme_api.get(transitions_url("zz"))
    assert theirs.status_code == absent.status_code == 404
    assert theirs.json()["detail"].replace("g1", "zz") == absent.json()["detail"]
    # Artifact ids are per tenant: in acme, g1 is a Draft like any unused id (409 alike, no 404 probe).
    move = {"artifact_kind": "Adapter", "event": lifecycle("Approved", "Active", tenant_id="acme")}
    theirs = acme_api.post(transitions_url("g1"), move, format="json")
    absent = acme_api.post(transitions_url("zz"), move, format="json")
    assert theirs.status_code == absent.status_code == 409
    assert theirs.json()["detail"].replace("g1", "zz") == absent.json()["detail"]
    assert acme_api.get(ARTIFACTS).json()["results"] == []
    mine = {"artifact_kind": "Adapter", "event": lifecycle("Draft", "Approved", tenant_id="acme")}
    assert acme_api.post(transitions_url("a1"), mine, format="json").status_code == 201
    assert [r["artifact_id"] for r in acme_api.get(ARTIFACTS).json()["results"]] == ["a1"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_transitions_from_the_same_state_exactly_one_wins(make_user, client_for):
    writer = make_user("racer", roles=["writer"])
    apis = [client_for(writer) for _ in range(2)]
    apis[0].post(
        transitions_url("race-1"), {"artifact_kind": "Pack", "event": lifecycle("Draft", "Approved")}, format="json"
    )
    barrier = threading.Barrier(2)
    results = []

    def attempt(api, to_state):
        try:
            barrier.wait()
            move = {"artifact_kind": "Pack", "event": lifecycle("Approved", to_state)}
            results.append(api.post(transitions_url("race-1"), move, format="json").status_code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=attempt, args=(api, state))
        for api, state in zip(apis, ["Active", "Quarantined"], strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 409]
    assert ExperienceEvent.objects.transitions("race-1").count() == 2
    assert connection.vendor == "postgresql"


# --- trace links ------------------------------------------------------------------------------


def test_a_trace_link_returns_its_replay_trace_and_every_referencing_event(reader_api, make_event):
    make_event("ReplayTraceRecorded", event_id="t-rec")
    make_event("BackendInvoked", event_id="t-back")
    make_event("ReplayabilityDowngraded", event_id="t-down")
    make_event("RecallExecuted", event_id="t-recall")
    make_event("OutcomeRecorded", event_id="unrelated")
    body = reader_api.get("/api/v1/trace-links/trace-1/").json()
    assert body["trace_link"]["type"] == "Local" and body["trace_link"]["seed"] == 42
    assert body["recorded"]["event_id"] == "t-rec"
    assert [e["event_id"] for e in body["events"]] == ["t-rec", "t-back", "t-down", "t-recall"]


def test_a_trace_link_without_a_recorded_trace_is_404(reader_api, make_event):
    make_event("BackendInvoked")
    response = reader_api.get("/api/v1/trace-links/trace-1/")
    assert response.status_code == 404 and "trace-1" in response.json()["detail"]
    assert reader_api.get("/api/v1/trace-links/nothing/").status_code == 404


def test_a_trace_link_of_another_tenant_is_404(acme_api, make_event):
    make_event("ReplayTraceRecorded", tenant_id="globex")
    assert acme_api.get("/api/v1/trace-links/trace-1/").status_code == 404


@pytest.mark.parametrize("tag", [None, ["OutcomeRecorded"], {"a": 1}, 5, True])
def test_an_event_type_that_is_not_a_kind_name_is_a_400(writer_api, tag):
    body = envelope()
    body["event"]["type"] = tag
    response = post(writer_api, body)
    assert response.status_code == 400 and "event.type" in response.json()["detail"]


def test_the_openapi_schema_describes_the_experience_endpoints(reader_api):
    response = reader_api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/events/",
        "/api/v1/events/batch/",
        "/api/v1/artifacts/",
        "/api/v1/trace-links/{trace_link_id}/",
    ):
        assert path in paths


# --- generated payloads survive the API unchanged (both engines) --------------------------------

# NUL is refused (PostgreSQL cannot store it; see test_models), every other code point must survive.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
UNIT = st.floats(min_value=0, max_value=1, allow_nan=False, allow_infinity=False)
SAFE_INT = st.integers(0, 2**53 - 1)


@st.composite
def proposals(draw):
    data = valid_data("ProposalCreated")
    proposal = data["proposal"]
    proposal["payload"] = draw(TEXT)
    proposal["confidence"] = draw(st.none() | UNIT)
    proposal["kind"] = draw(
        st.sampled_from(["Claims", "Plan", "Classification", "Evaluation", "DraftDocument", "Reasoning"])
    )
    proposal["contract_results"] = draw(
        st.lists(
            st.fixed_dictionaries({"name": TEXT, "passed": st.booleans(), "failure_reason": st.none() | TEXT}),
            max_size=4,
        )
    )
    proposal["structured_payload"] = draw(
        st.none()
        | st.recursive(
            st.none() | st.booleans() | SAFE_INT | TEXT,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
            max_leaves=8,
        )
    )
    proposal["trace_link"]["seed"] = draw(SAFE_INT)
    proposal["trace_link"]["sampler"]["top_p"] = draw(UNIT)
    data["step"] = draw(st.sampled_from(["Reasoning", "Evaluation", "Planning"]))
    return data


@given(data=proposals())
def test_a_generated_proposal_comes_back_exactly_as_sent(writer_api, data):
    body = envelope("ProposalCreated", data)
    created = post(writer_api, body)
    assert created.status_code == 201, created.json()
    fetched = writer_api.get(f"{EVENTS}{body['event_id']}/").json()
    assert fetched["event"] == body["event"]


@pytest.mark.parametrize(
    "param", ["tenant_id", "correlation_id", "chain_id", "artifact_id", "trace_link_id", "proposal_id"]
)
def test_a_filter_id_outside_the_id_rule_is_a_400_not_a_database_error(reader_api, param):
    response = reader_api.get(f"{EVENTS}?{param}=a%00b")
    assert response.status_code == 400 and param in response.json()["detail"]
    assert reader_api.get(f"{ARTIFACTS}?tenant_id=a%00b").status_code == 400


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@given(
    kind=st.sampled_from([*VALID, "Unknown"]),
    data=JSON,
    extra=st.dictionaries(
        st.sampled_from(["event_id", "tenant_id", "correlation_id", "occurred_at"]), JSON, max_size=2
    ),
)
def test_arbitrary_json_is_answered_with_a_4xx_never_a_500(writer_api, kind, data, extra):
    body = envelope()
    body["event"] = {"type": kind, "data": data}
    body.update(extra)
    response = post(writer_api, body)
    assert response.status_code in (201, 400, 404, 409), response.content
    assert "detail" in response.json() or response.status_code == 201


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def mutated_payloads(draw):
    """A valid payload with one nested value replaced (or removed): the errors a real client makes."""
    kind = draw(st.sampled_from(list(VALID)))
    data = valid_data(kind)
    paths = [p for p in _paths(data) if p]
    path = draw(st.sampled_from(paths))
    node = data
    for key in path[:-1]:
        node = node[key]
    if draw(st.booleans()) and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = draw(JSON)
    return kind, data, ".".join(str(p) for p in ("event", "data", *path))


@given(case=mutated_payloads())
def test_a_nested_mistake_is_a_400_naming_it_or_a_valid_variant(writer_api, case):
    kind, data, path = case
    body = envelope(kind, data, tenant_id=None)
    response = post(writer_api, body)
    assert response.status_code in (201, 400, 409), response.content
    if response.status_code == 400:
        # The message names the changed field, or one of its parents (e.g. a whole trace_link re-typed).
        named = [key for key in response.json() if key != "detail"]
        assert any(path.startswith(key) or key.startswith(path) for key in named), (path, named)


@given(body=JSON)
def test_an_arbitrary_transition_body_is_a_4xx_never_a_500(writer_api, body):
    response = writer_api.post(transitions_url("fuzzed"), body, format="json")
    assert response.status_code in (400, 409), response.content


@pytest.mark.parametrize("path", ["/api/v1/events/", "/api/v1/artifacts/"])
def test_a_limit_beyond_any_database_integer_is_a_400(reader_api, path):
    response = reader_api.get(path, {"limit": "99999999999999999999999"})
    assert response.status_code == 400
    assert "limit" in response.json()["detail"]


@pytest.mark.parametrize("number", [2**53, -(2**60), 1e21])
def test_a_number_beyond_exact_json_range_is_a_400_naming_its_path(writer_api, number):
    data = valid_data("ProposalCreated")
    data["proposal"]["structured_payload"] = {"score": number}
    response = post(writer_api, envelope("ProposalCreated", data, tenant_id=None))
    assert response.status_code == 400, response.content
    assert "event.data.proposal.structured_payload.score" in response.json()
    assert not ExperienceEvent.objects.exists()
