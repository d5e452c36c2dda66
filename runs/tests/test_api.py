"""The REST contract of blobs, runs, run events and task outputs (API.md, "Runs, blobs and outputs")."""

import hashlib
import json
import uuid

import pytest

from runs.models import Blob, BlobChange, Output, RunEvent, RunOutcome
from runs.tests.conftest import SPEC, final

pytestmark = pytest.mark.django_db

OCTET = "application/octet-stream"


def upload(api, data, content_type=OCTET):
    return api.post("/api/v1/blobs/", data=data, content_type=content_type)


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def new_run(api, spec=SPEC, agent="coder", **metadata):
    response = api.post(
        "/api/v1/runs/",
        {"spec_digest": spec, "metadata": {"agent_name": agent, "tags": {"env": "ci"}, **metadata}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def events_url(run):
    return f"/api/v1/runs/{run['run_id']}/events/"


# --- blobs ----------------------------------------------------------------------------------------


def test_it_stores_a_blob_and_answers_its_digest(writer_api):
    response = upload(writer_api, b"hello", "text/plain; charset=utf-8")
    assert response.status_code == 201
    data = response.json()
    assert data["digest"] == hashlib.sha256(b"hello").hexdigest()
    assert (data["size"], data["media_type"]) == (5, "text/plain")
    assert response["ETag"] == f'"{data["digest"]}"'


def test_it_answers_200_for_bytes_already_stored(writer_api):
    assert upload(writer_api, b"twice").status_code == 201
    again = upload(writer_api, b"twice")
    assert again.status_code == 200
    assert Blob.objects.count() == 1


def test_it_serves_the_exact_bytes_with_the_digest_as_etag(writer_api, reader_api):
    data = bytes(range(256)) * 10
    digest = upload(writer_api, data).json()["digest"]
    response = reader_api.get(f"/api/v1/blobs/{digest}/")
    assert response.status_code == 200
    assert body(response) == data
    assert response["ETag"] == f'"{digest}"'
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Type"] == OCTET


def test_it_answers_304_when_the_client_has_the_blob(writer_api, reader_api):
    digest = upload(writer_api, b"cached").json()["digest"]
    response = reader_api.get(f"/api/v1/blobs/{digest}/", HTTP_IF_NONE_MATCH=f'"{digest}"')
    assert response.status_code == 304


def test_head_tells_whether_a_blob_is_stored(writer_api, reader_api):
    digest = upload(writer_api, b"here").json()["digest"]
    present = reader_api.head(f"/api/v1/blobs/{digest}/")
    assert present.status_code == 200 and present["Content-Length"] == "4"
    assert reader_api.head(f"/api/v1/blobs/{hashlib.sha256(b'no').hexdigest()}/").status_code == 404


def test_it_accepts_an_uppercase_digest(writer_api, reader_api):
    digest = upload(writer_api, b"case").json()["digest"]
    assert body(reader_api.get(f"/api/v1/blobs/{digest.upper()}/")) == b"case"


@pytest.mark.parametrize("digest", ["abc", "z" * 64, "0" * 63, "0" * 65])
def test_it_answers_400_for_a_malformed_digest(reader_api, writer_api, digest):
    for response in (reader_api.get(f"/api/v1/blobs/{digest}/"), writer_api.delete(f"/api/v1/blobs/{digest}/")):
        assert response.status_code == 400
        assert "SHA-256" in response.json()["detail"]


def test_it_answers_404_for_a_blob_never_stored(reader_api):
    response = reader_api.get(f"/api/v1/blobs/{hashlib.sha256(b'nothing').hexdigest()}/")
    assert response.status_code == 404
    assert "No blob" in response.json()["detail"]


def test_delete_removes_the_bytes_and_is_a_no_op_when_absent(writer_api, reader_api):
    digest = upload(writer_api, b"bye").json()["digest"]
    assert writer_api.delete(f"/api/v1/blobs/{digest}/?reason=cleanup").status_code == 204
    assert reader_api.get(f"/api/v1/blobs/{digest}/").status_code == 404
    assert writer_api.delete(f"/api/v1/blobs/{digest}/").status_code == 204
    assert BlobChange.objects.count() == 1
    listed = reader_api.get("/api/v1/blobs/").json()["results"]
    assert [(b["digest"], b["present"]) for b in listed] == [(digest, False)]


def test_delete_is_refused_while_a_run_refers_to_the_blob(writer_api, reader_api):
    digest = upload(writer_api, b"the spec").json()["digest"]
    new_run(writer_api, spec=digest)
    response = writer_api.delete(f"/api/v1/blobs/{digest}/")
    assert response.status_code == 409
    assert "spec_digest" in response.json()["detail"]
    assert body(reader_api.get(f"/api/v1/blobs/{digest}/")) == b"the spec"


def test_it_refuses_a_form_body_for_a_blob(writer_api):
    response = writer_api.post("/api/v1/blobs/", data="a=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "raw request body" in response.json()["detail"]


def test_it_refuses_a_blob_over_the_size_limit(writer_api, settings):
    settings.LEDGER_MAX_BLOB_BYTES = 10
    response = upload(writer_api, b"x" * 11)
    assert response.status_code == 413
    assert Blob.objects.count() == 0


def test_it_refuses_a_chunked_upload_without_a_length(writer_api):
    response = writer_api.generic("POST", "/api/v1/blobs/", b"", content_type=OCTET, HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 411
    assert Blob.objects.count() == 0


def test_a_reader_cannot_store_or_delete_blobs(reader_api, writer_api):
    digest = upload(writer_api, b"r").json()["digest"]
    assert upload(reader_api, b"nope").status_code == 403
    assert reader_api.delete(f"/api/v1/blobs/{digest}/").status_code == 403


def test_blobs_need_credentials(anon_api):
    assert anon_api.get(f"/api/v1/blobs/{SPEC}/").status_code in (401, 403)
    assert upload(anon_api, b"x").status_code in (401, 403)


# --- runs -----------------------------------------------------------------------------------------


def test_it_creates_a_running_run_with_a_minted_uuid(writer_api):
    run = new_run(writer_api, git_sha="abc123")
    assert uuid.UUID(run["run_id"]).version == 4
    assert run["status"] == "RUNNING"
    assert run["summary"] is None and run["completed_at"] is None
    assert run["metadata"] == {"git_sha": "abc123", "agent_name": "coder", "tags": {"env": "ci"}}
    assert run["created_at"].endswith("Z")


def test_creating_a_run_answers_without_looking_for_its_outcome(writer_api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        run = new_run(writer_api)
    outcome_table = RunOutcome._meta.db_table
    assert not [q["sql"] for q in queries if outcome_table in q["sql"] and q["sql"].lstrip().startswith("SELECT")]
    # The answer is the run as it is read back afterwards.
    assert writer_api.get(f"/api/v1/runs/{run['run_id']}/").json() == run
    # An array of runs likewise: no lookup per created run.
    body = [{"spec_digest": SPEC, "metadata": {"agent_name": f"a{i}", "tags": {}}} for i in range(12)]
    with CaptureQueriesContext(connection) as queries:
        response = writer_api.post("/api/v1/runs/", body, format="json")
    assert response.status_code == 201, response.json()
    assert not [q["sql"] for q in queries if outcome_table in q["sql"] and q["sql"].lstrip().startswith("SELECT")]
    for run in response.json():
        assert writer_api.get(f"/api/v1/runs/{run['run_id']}/").json() == run


def test_it_refuses_a_client_chosen_run_id_and_a_malformed_spec(writer_api):
    response = writer_api.post(
        "/api/v1/runs/",
        {"run_id": str(uuid.uuid4()), "spec_digest": SPEC, "metadata": {"agent_name": "a", "tags": {}}},
        format="json",
    )
    assert response.status_code == 400 and "run_id" in response.json()
    response = writer_api.post(
        "/api/v1/runs/", {"spec_digest": "xyz", "metadata": {"agent_name": "a", "tags": {}}}, format="json"
    )
    assert response.status_code == 400 and "spec_digest" in response.json()["detail"]
    response = writer_api.post("/api/v1/runs/", {"spec_digest": SPEC, "metadata": {}}, format="json")
    assert response.status_code == 400 and "agent_name" in response.json()["detail"]


def test_get_run_answers_the_run_record_and_404_for_unknown(writer_api, reader_api):
    run = new_run(writer_api)
    got = reader_api.get(f"/api/v1/runs/{run['run_id']}/").json()
    assert {k: got[k] for k in ("run_id", "spec_digest", "status")} == {
        "run_id": run["run_id"],
        "spec_digest": SPEC,
        "status": "RUNNING",
    }
    assert reader_api.get(f"/api/v1/runs/{uuid.uuid4()}/").status_code == 404


def test_events_come_back_ascending_by_seq_whatever_the_arrival_order(writer_api, reader_api):
    run = new_run(writer_api)
    for seq in (2, 1, 3):
        assert writer_api.post(events_url(run), {"seq": seq, "kind": f"k{seq}"}, format="json").status_code == 201
    listed = reader_api.get(events_url(run)).json()["results"]
    assert [(e["seq"], e["kind"]) for e in listed] == [(1, "k1"), (2, "k2"), (3, "k3")]
    assert all(e["timestamp"].endswith("Z") for e in listed)


def test_a_repeated_seq_is_409_with_identical_and_loses_nothing(writer_api, reader_api):
    run = new_run(writer_api)
    event = {"seq": 1, "kind": "tool_called", "payload": {"tool": "grep"}, "timestamp": "2026-01-21T12:00:00Z"}
    writer_api.post(events_url(run), event, format="json")
    replay = writer_api.post(events_url(run), event, format="json")
    assert replay.status_code == 409
    assert replay.json()["identical"] is True
    clash = writer_api.post(events_url(run), {**event, "payload": {"tool": "rm"}}, format="json")
    assert clash.status_code == 409
    assert clash.json()["identical"] is False
    assert clash.json()["existing"]["payload"] == {"tool": "grep"}
    listed = reader_api.get(events_url(run)).json()["results"]
    assert [(e["seq"], e["payload"]) for e in listed] == [(1, {"tool": "grep"})]


def test_an_omitted_seq_is_one_above_the_highest(writer_api):
    run = new_run(writer_api)
    writer_api.post(events_url(run), {"seq": 7, "kind": "a"}, format="json")
    response = writer_api.post(events_url(run), [{"kind": "b"}, {"kind": "c"}], format="json")
    assert response.status_code == 201
    assert [e["seq"] for e in response.json()] == [8, 9]


def test_a_batch_of_events_is_all_or_nothing(writer_api):
    run = new_run(writer_api)
    writer_api.post(events_url(run), {"seq": 2, "kind": "a"}, format="json")
    response = writer_api.post(events_url(run), [{"seq": 1, "kind": "b"}, {"seq": 2, "kind": "c"}], format="json")
    assert response.status_code == 409
    assert response.json()["index"] == 1
    bad = writer_api.post(events_url(run), [{"seq": 3, "kind": "ok"}, {"seq": 0, "kind": "bad"}], format="json")
    assert bad.status_code == 400 and bad.json()["items"][0]["index"] == 1
    assert RunEvent.objects.count() == 1


def test_events_page_through_in_seq_order(writer_api, reader_api):
    run = new_run(writer_api)
    writer_api.post(events_url(run), [{"seq": s, "kind": f"k{s}"} for s in (5, 3, 1, 4, 2)], format="json")
    first = reader_api.get(f"{events_url(run)}?page_size=2").json()
    second = reader_api.get(first["next"]).json()
    third = reader_api.get(second["next"]).json()
    pages = [[e["seq"] for e in page["results"]] for page in (first, second, third)]
    assert pages == [[1, 2], [3, 4], [5]] and third["next"] is None
    streamed = reader_api.get(f"{events_url(run)}?format=jsonl")
    lines = b"".join(streamed.streaming_content).decode().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4, 5]


def test_one_event_is_found_by_its_seq_within_the_run(writer_api, reader_api):
    run = new_run(writer_api)
    writer_api.post(events_url(run), [{"seq": 4, "kind": "four"}, {"seq": 9, "kind": "nine"}], format="json")
    assert reader_api.get(f"{events_url(run)}9/").json()["kind"] == "nine"
    assert reader_api.get(f"{events_url(run)}5/").status_code == 404
    other = new_run(writer_api)
    assert reader_api.get(f"{events_url(other)}9/").status_code == 404


def test_events_of_an_unknown_run_are_404(writer_api):
    assert writer_api.post(f"/api/v1/runs/{uuid.uuid4()}/events/", {"kind": "x"}, format="json").status_code == 404


@pytest.mark.parametrize("action, status", [("complete", "COMPLETED"), ("fail", "FAILED"), ("cancel", "CANCELLED")])
def test_finishing_a_run_sets_status_summary_and_completed_at(writer_api, reader_api, action, status):
    run = new_run(writer_api)
    summary = {"total_events": 4, "final_state_digest": SPEC.upper(), "duration_ms": 1234}
    response = writer_api.post(f"/api/v1/runs/{run['run_id']}/{action}/", summary, format="json")
    assert response.status_code == 200, response.json()
    got = reader_api.get(f"/api/v1/runs/{run['run_id']}/").json()
    assert got["status"] == status
    assert got["summary"] == {**summary, "final_state_digest": SPEC, "success": action == "complete"}
    assert got["completed_at"] is not None


def test_a_finished_run_accepts_no_event_and_no_second_outcome(writer_api):
    run = new_run(writer_api)
    writer_api.post(f"/api/v1/runs/{run['run_id']}/complete/", {"total_events": 0, "duration_ms": 1}, format="json")
    late = writer_api.post(events_url(run), {"kind": "late"}, format="json")
    assert late.status_code == 409 and late.json()["status"] == "COMPLETED"
    again = writer_api.post(f"/api/v1/runs/{run['run_id']}/fail/", {"total_events": 0, "duration_ms": 1}, format="json")
    assert again.status_code == 409
    assert RunOutcome.objects.count() == 1 and RunEvent.objects.count() == 0


def test_it_refuses_a_replayed_event_of_a_finished_run_as_finished(writer_api):
    # The run's state is checked under the lock before a stored key is reported: the answer says why
    # nothing more can be appended, not that this one was a harmless replay.
    run = new_run(writer_api)
    assert writer_api.post(events_url(run), {"seq": 1, "kind": "step"}, format="json").status_code == 201
    writer_api.post(f"/api/v1/runs/{run['run_id']}/complete/", {"total_events": 1, "duration_ms": 1}, format="json")
    replay = writer_api.post(events_url(run), {"seq": 1, "kind": "step"}, format="json")
    assert replay.status_code == 409 and replay.json()["status"] == "COMPLETED"
    assert RunEvent.objects.count() == 1


def test_it_appends_events_to_a_running_run_numbered_after_the_last(writer_api):
    run = new_run(writer_api)
    for kind in ("a", "b", "c"):
        assert writer_api.post(events_url(run), {"kind": kind}, format="json").status_code == 201
    assert list(RunEvent.objects.order_by("seq").values_list("event_seq", "kind")) == [(1, "a"), (2, "b"), (3, "c")]


def test_a_summary_is_validated(writer_api):
    run = new_run(writer_api)
    url = f"/api/v1/runs/{run['run_id']}/complete/"
    assert writer_api.post(url, {"duration_ms": 1}, format="json").status_code == 400
    bad_digest = writer_api.post(url, {"total_events": 1, "duration_ms": 1, "final_state_digest": "x"}, format="json")
    assert bad_digest.status_code == 400
    contradiction = writer_api.post(url, {"total_events": 1, "duration_ms": 1, "success": False}, format="json")
    assert contradiction.status_code == 400 and "success" in contradiction.json()["detail"]
    assert RunOutcome.objects.count() == 0


def test_list_runs_newest_first_and_filtered(writer_api, reader_api, django_assert_max_num_queries):
    other_spec = hashlib.sha256(b"other").hexdigest()
    first = new_run(writer_api, agent="planner")
    second = new_run(writer_api, spec=other_spec)
    third = new_run(writer_api)
    writer_api.post(f"/api/v1/runs/{second['run_id']}/fail/", {"total_events": 0, "duration_ms": 1}, format="json")
    with django_assert_max_num_queries(6):
        listed = reader_api.get("/api/v1/runs/").json()["results"]
    assert [r["run_id"] for r in listed] == [third["run_id"], second["run_id"], first["run_id"]]

    def ids(query):
        return [r["run_id"] for r in reader_api.get(f"/api/v1/runs/?{query}").json()["results"]]

    assert ids(f"spec_digest={SPEC}") == [third["run_id"], first["run_id"]]
    assert ids("agent_name=planner") == [first["run_id"]]
    assert ids("status=FAILED") == [second["run_id"]]
    assert ids("status=RUNNING") == [third["run_id"], first["run_id"]]


def test_runs_are_never_changed_over_the_api(writer_api):
    run = new_run(writer_api)
    url = f"/api/v1/runs/{run['run_id']}/"
    assert writer_api.put(url, {}, format="json").status_code == 405
    assert writer_api.patch(url, {}, format="json").status_code == 405
    assert writer_api.delete(url).status_code == 405


def test_a_reader_cannot_create_or_finish_runs(reader_api, writer_api):
    run = new_run(writer_api)
    assert reader_api.post("/api/v1/runs/", {}, format="json").status_code == 403
    url = f"/api/v1/runs/{run['run_id']}/complete/"
    assert reader_api.post(url, {"total_events": 0, "duration_ms": 1}, format="json").status_code == 403
    assert reader_api.post(events_url(run), {"kind": "x"}, format="json").status_code == 403


# --- outputs ----------------------------------------------------------------------------------------


def emit(api, task_id="t", attempt=1, producer="p", event=None, parent_refs=()):
    response = api.post(
        "/api/v1/outputs/",
        {
            "task_id": task_id,
            "attempt": attempt,
            "producer_agent": producer,
            "event": event or final("body"),
            "parent_refs": list(parent_refs),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_output_roundtrip_with_a_minted_id(writer_api, reader_api):
    output = emit(writer_api, "task-1", 1, "producer-a", final("hello"))
    assert output["id"].startswith("out-")
    got = reader_api.get(f"/api/v1/outputs/{output['id']}/").json()
    assert {k: got[k] for k in ("id", "task_id", "attempt", "producer_agent", "event", "parent_refs")} == {
        "id": output["id"],
        "task_id": "task-1",
        "attempt": 1,
        "producer_agent": "producer-a",
        "event": final("hello"),
        "parent_refs": [],
    }
    assert reader_api.get("/api/v1/outputs/out-missing/").status_code == 404


def test_outputs_list_for_an_attempt_in_insertion_order(writer_api, reader_api):
    a = emit(writer_api, "t", 1, "p1")
    b = emit(writer_api, "t", 1, "p2")
    emit(writer_api, "t", 2, "p1")
    c = emit(writer_api, "t", 1, "p3")
    listed = reader_api.get("/api/v1/outputs/?task_id=t&attempt=1").json()["results"]
    assert [o["id"] for o in listed] == [a["id"], b["id"], c["id"]]


def test_latest_by_producer_across_runs_and_within_one(writer_api, reader_api):
    in_a = emit(writer_api, "task-a", 1, "shared", final("a"))
    newest = emit(writer_api, "task-b", 1, "shared", final("b"))
    emit(writer_api, "task-b", 1, "other", final("c"))
    latest = reader_api.get("/api/v1/outputs/latest/?producer_agent=shared").json()
    assert latest["id"] == newest["id"]
    in_run = reader_api.get("/api/v1/outputs/latest/?producer_agent=shared&task_id=task-a&attempt=1").json()
    assert in_run["id"] == in_a["id"]


def test_latest_in_the_wrong_run_is_404_with_no_fallback(writer_api, reader_api):
    emit(writer_api, "t", 1, "p")
    response = reader_api.get("/api/v1/outputs/latest/?producer_agent=p&task_id=t&attempt=2")
    assert response.status_code == 404
    assert reader_api.get("/api/v1/outputs/latest/?producer_agent=nobody").status_code == 404
    assert reader_api.get("/api/v1/outputs/latest/?producer_agent=p&task_id=t").status_code == 400
    assert reader_api.get("/api/v1/outputs/latest/").status_code == 400


def test_parent_refs_must_exist_and_are_kept(writer_api, reader_api):
    parent = emit(writer_api, event={"type": "progress", "stage": "plan", "note": None})
    child = emit(writer_api, parent_refs=[parent["id"]])
    assert reader_api.get(f"/api/v1/outputs/{child['id']}/").json()["parent_refs"] == [parent["id"]]
    missing = writer_api.post(
        "/api/v1/outputs/",
        {"task_id": "t", "attempt": 1, "producer_agent": "p", "event": final("x"), "parent_refs": ["out-nope"]},
        format="json",
    )
    assert missing.status_code == 400 and "out-nope" in missing.json()["detail"]
    assert Output.objects.count() == 2


def test_an_output_can_carry_a_blob_instead_of_a_file_path(writer_api):
    digest = upload(writer_api, b"report").json()["digest"]
    content = {"kind": "blob", "digest": digest, "mime": "text/plain", "size_hint": 6}
    output = emit(writer_api, event={"type": "artifact", "name": "report.txt", "content": content})
    assert output["event"]["content"] == content
    file_ref = writer_api.post(
        "/api/v1/outputs/",
        {
            "task_id": "t",
            "attempt": 1,
            "producer_agent": "p",
            "event": {"type": "final", "ok": True, "content": {"kind": "file_ref", "path": "/tmp/x"}},
        },
        format="json",
    )
    assert file_ref.status_code == 400 and "/api/v1/blobs/" in file_ref.json()["detail"]
    assert writer_api.delete(f"/api/v1/blobs/{digest}/").status_code == 409


def test_it_refuses_a_client_chosen_output_id(writer_api):
    response = writer_api.post(
        "/api/v1/outputs/",
        {"id": "out-mine", "task_id": "t", "attempt": 1, "producer_agent": "p", "event": final("x")},
        format="json",
    )
    assert response.status_code == 400 and "id" in response.json()
