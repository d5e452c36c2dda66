"""A refused array names each refused item's index (API.md, Conventions) and stores nothing; unknown fields are refused."""

import hashlib

import pytest

from runs.models import Output, Run, RunEvent
from runs.tests.conftest import SPEC, final

pytestmark = pytest.mark.django_db


def output(parent_refs=(), event=None, task_id="t"):
    return {
        "task_id": task_id,
        "attempt": 1,
        "producer_agent": "p",
        "event": event or final("body"),
        "parent_refs": list(parent_refs),
    }


def blob_final(digest):
    return {"type": "final", "content": {"kind": "blob", "digest": digest, "mime": None, "size_hint": None}, "ok": True}


def assert_batch_rejection(response, indexes):
    assert response.status_code == 400, response.json()
    body = response.json()
    assert [item["index"] for item in body["items"]] == indexes
    for index in indexes:
        assert f"item {index}:" in body["detail"]
    assert body["detail"].startswith("Batch rejected, nothing was stored")
    return body


def test_an_output_batch_names_the_item_whose_parent_is_missing(writer_api, emit):
    parent = emit()
    response = writer_api.post(
        "/api/v1/outputs/batch/",
        [output([parent.output_id]), output(["out-0000000000"]), output(), output(["out-1111111111"])],
        format="json",
    )
    body = assert_batch_rejection(response, [1, 3])
    assert body["items"][0]["errors"] == {"parent_refs": ["no output out-0000000000 exists"]}
    assert Output.objects.count() == 1


def test_an_output_batch_names_the_item_whose_blob_is_not_stored(writer_api, put_blob):
    stored = put_blob(b"kept").digest
    missing = hashlib.sha256(b"never stored").hexdigest()
    response = writer_api.post(
        "/api/v1/outputs/batch/", [output(event=blob_final(stored)), output(event=blob_final(missing))], format="json"
    )
    body = assert_batch_rejection(response, [1])
    assert body["items"][0]["errors"] == {"event": [f"blob {missing} is not stored"]}
    assert Output.objects.count() == 0


def test_one_output_with_a_missing_parent_keeps_the_per_field_shape(writer_api):
    response = writer_api.post("/api/v1/outputs/", output(["out-0000000000"]), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["parent_refs"] == ["no output out-0000000000 exists"]
    assert "items" not in body and "parent_refs" in body["detail"]
    assert Output.objects.count() == 0


def test_an_event_array_repeating_a_seq_names_the_repeating_item(writer_api, make_run):
    run = make_run()
    response = writer_api.post(
        f"/api/v1/runs/{run.run_id}/events/",
        [{"seq": 10, "kind": "a"}, {"seq": 11, "kind": "b"}, {"seq": 10, "kind": "c"}],
        format="json",
    )
    body = assert_batch_rejection(response, [2])
    assert "item 0" in body["items"][0]["errors"]["seq"][0]
    assert RunEvent.objects.count() == 0


def test_the_event_batch_endpoint_names_the_repeating_item_too(writer_api, make_run):
    run = make_run()
    response = writer_api.post(
        f"/api/v1/runs/{run.run_id}/events/batch/", [{"seq": 4, "kind": "a"}, {"seq": 4, "kind": "a"}], format="json"
    )
    assert_batch_rejection(response, [1])
    assert RunEvent.objects.count() == 0


def test_an_omitted_seq_numbered_onto_a_given_one_names_the_item(writer_api, make_run):
    run = make_run()
    # The first event is numbered 1; the second claims 1 as well.
    response = writer_api.post(
        f"/api/v1/runs/{run.run_id}/events/", [{"kind": "a"}, {"seq": 1, "kind": "b"}], format="json"
    )
    assert_batch_rejection(response, [1])
    assert RunEvent.objects.count() == 0


def test_run_creation_refuses_the_unstored_evaluation_metadata(writer_api):
    metadata = {
        "agent_name": "coder",
        "tags": {},
        "evaluation": {"rubricPath": None, "isPromotionGate": False, "agentPhase": 1},
    }
    response = writer_api.post("/api/v1/runs/", {"spec_digest": SPEC, "metadata": metadata}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "evaluation" in body["metadata"]
    assert "metadata.evaluation" in body["detail"]
    assert Run.objects.count() == 0


def test_run_creation_refuses_an_unknown_top_level_field(writer_api):
    response = writer_api.post(
        "/api/v1/runs/", {"spec_digest": SPEC, "metadata": {"agent_name": "coder"}, "owner": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "owner" in response.json()
    assert Run.objects.count() == 0


def test_a_run_summary_with_an_unknown_field_is_refused(writer_api, make_run):
    run = make_run()
    response = writer_api.post(
        f"/api/v1/runs/{run.run_id}/complete/",
        {"total_events": 0, "duration_ms": 5, "succes": True},
        format="json",
    )
    assert response.status_code == 400
    assert "succes" in response.json()
    assert writer_api.get(f"/api/v1/runs/{run.run_id}/").json()["status"] == "RUNNING"


def test_a_run_batch_names_the_item_with_an_unknown_metadata_field(writer_api):
    good = {"spec_digest": SPEC, "metadata": {"agent_name": "coder"}}
    bad = {"spec_digest": SPEC, "metadata": {"agent_name": "coder", "evaluation": {"agentPhase": 2}}}
    response = writer_api.post("/api/v1/runs/batch/", [good, bad, good], format="json")
    body = assert_batch_rejection(response, [1])
    assert "evaluation" in body["items"][0]["errors"]["metadata"]
    assert Run.objects.count() == 0
