"""The seeds' store behaviour on the models: AIVCS CasStore and RunLedger, mlua-swarm OutputStore."""

import hashlib
import io
import re
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from ledgerproject.ledger.exceptions import ConflictError, ImmutableEntryError, StateConflictError
from runs import blobstore
from runs.models import (
    Blob,
    BlobChange,
    Output,
    Run,
    RunEvent,
    RunOutcome,
    RunStatus,
    digests_in,
    mint_output_id,
)
from runs.tests.conftest import SPEC, final

pytestmark = pytest.mark.django_db


# --- CasStore ---------------------------------------------------------------------------------------


def test_cas_put_returns_correct_digest(put_blob):
    blob = put_blob(b"hello world")
    assert blob.digest == hashlib.sha256(b"hello world").hexdigest()
    assert blob.size == 11


def test_cas_get_round_trip(put_blob):
    blob = put_blob(b"round trip")
    assert blobstore.read_bytes(blob.digest) == b"round trip"


def test_cas_get_not_found():
    assert blobstore.read_bytes(hashlib.sha256(b"never stored").hexdigest()) is None


def test_cas_deduplicate_same_content(blob_media_root):
    first, created_first = blobstore.put_blob(io.BytesIO(b"same"))
    second, created_second = blobstore.put_blob(io.BytesIO(b"same"))
    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Blob.objects.count() == 1
    stored = [p for p in blob_media_root.rglob("*") if p.is_file() and ".incoming" not in p.parts]
    assert len(stored) == 1


def test_cas_different_content_different_digest(put_blob):
    assert put_blob(b"a").digest != put_blob(b"b").digest


def test_cas_contains_after_put(put_blob):
    blob = put_blob(b"present")
    assert Blob.objects.present().filter(digest=blob.digest).exists()
    assert blobstore.blob_storage().exists(blobstore.blob_name(blob.digest))


def test_cas_contains_false_for_missing():
    assert not Blob.objects.present().filter(digest=hashlib.sha256(b"x").hexdigest()).exists()


def test_it_names_the_present_digests_as_present_does(put_blob):
    kept, deleted, restored = put_blob(b"kept"), put_blob(b"deleted"), put_blob(b"restored")
    blobstore.delete_blob(deleted.digest, reason="cleanup")
    blobstore.delete_blob(restored.digest, reason="cleanup")
    put_blob(b"restored")
    missing = hashlib.sha256(b"never stored").hexdigest()
    asked = [kept.digest, deleted.digest, restored.digest, missing]
    expected = set(Blob.objects.present().filter(digest__in=asked).values_list("digest", flat=True))
    assert expected == {kept.digest, restored.digest}
    assert Blob.objects.present_digests(asked) == expected
    assert Blob.objects.present_digests([]) == set()


@pytest.mark.parametrize("principal", ["superuser", "all-tenant grant", "acme", "acme and globex", "no tenant"])
def test_a_lists_blob_presence_is_what_the_principal_sees_present(principal, put_blob, make_run, make_user):
    # Blob.objects.presence_visible_to() is SQL written by hand for other ledgers' lists (a release's spec
    # blob); it must answer as visible_to(user).present() does for every digest a row can name.
    kept = blobstore.put_blob(io.BytesIO(b"acme kept"), tenant="acme")[0]
    deleted = blobstore.put_blob(io.BytesIO(b"acme deleted"), tenant="acme")[0]
    blobstore.delete_blob(deleted.digest, reason="cleanup")
    restored = blobstore.put_blob(io.BytesIO(b"globex restored"), tenant="globex")[0]
    blobstore.delete_blob(restored.digest, reason="cleanup")
    blobstore.put_blob(io.BytesIO(b"globex restored"), tenant="globex")
    shared = blobstore.put_blob(io.BytesIO(b"held by both"), tenant="globex")[0]
    blobstore.put_blob(io.BytesIO(b"held by both"), tenant="acme")
    untenanted = put_blob(b"no tenant's")
    missing = hashlib.sha256(b"never stored").hexdigest()
    named = [kept.digest, deleted.digest, restored.digest, shared.digest, untenanted.digest, missing]
    for digest in named:
        make_run(spec_digest=digest)
    user = {
        "superuser": lambda: make_user("root", superuser=True),
        "all-tenant grant": lambda: make_user("auditor", roles=["reader"], all_tenants=True),
        "acme": lambda: make_user("acme", roles=["reader"], tenants=["acme"]),
        "acme and globex": lambda: make_user("both", roles=["reader"], tenants=["acme", "globex"]),
        "no tenant": lambda: make_user("nobody", roles=["reader"], all_tenants=False),
    }[principal]()

    rows = Run.objects.annotate(spec_present=Blob.objects.presence_visible_to(user, "spec_digest"))
    answered = {digest: present for digest, present in rows.values_list("spec_digest", "spec_present")}

    seen_present = set(Blob.objects.visible_to(user).present().values_list("digest", flat=True))
    assert answered == {digest: digest in seen_present for digest in named}
    assert any(answered.values()) == (principal != "no tenant")


def test_cas_delete_removes_content_and_keeps_the_record(put_blob):
    blob = put_blob(b"to delete")
    assert blobstore.delete_blob(blob.digest, reason="cleanup") is True
    assert blobstore.read_bytes(blob.digest) is None
    assert not Blob.objects.present().filter(digest=blob.digest).exists()
    # The blob's entry stays; the deletion is a new entry.
    assert Blob.objects.filter(digest=blob.digest).exists()
    change = BlobChange.objects.get()
    assert (change.digest, change.change, change.reason) == (blob.digest, "deleted", "cleanup")


def test_cas_delete_noop_for_missing():
    assert blobstore.delete_blob(hashlib.sha256(b"absent").hexdigest()) is False
    assert BlobChange.objects.count() == 0


def test_cas_preserves_binary_data(put_blob):
    data = bytes(range(256)) * 64 + b"\x00\r\n\xff"
    blob = put_blob(data)
    assert blobstore.read_bytes(blob.digest) == data


def test_it_stores_deleted_bytes_again_and_records_that(put_blob):
    blob = put_blob(b"phoenix")
    blobstore.delete_blob(blob.digest)
    again, created = blobstore.put_blob(io.BytesIO(b"phoenix"))
    assert created is True and again.pk == blob.pk
    assert list(BlobChange.objects.values_list("change", flat=True)) == ["deleted", "restored"]
    assert blobstore.read_bytes(blob.digest) == b"phoenix"


def test_it_refuses_to_serve_bytes_that_no_longer_match_their_digest(put_blob, blob_media_root):
    blob = put_blob(b"original")
    path = next(p for p in blob_media_root.rglob(blob.digest))
    path.write_bytes(b"tampered")
    with pytest.raises(blobstore.BlobIntegrityError):
        blobstore.open_verified(blob.digest)


def test_it_refuses_to_delete_a_blob_a_run_refers_to(put_blob, make_run):
    blob = put_blob(b"spec bytes")
    make_run(spec_digest=blob.digest)
    with pytest.raises(StateConflictError, match="spec_digest"):
        blobstore.delete_blob(blob.digest)
    assert blobstore.read_bytes(blob.digest) == b"spec bytes"


def test_it_refuses_to_delete_a_blob_a_summary_an_event_or_an_output_refers_to(
    put_blob, make_run, add_events, finish_run, emit
):
    state, payload_blob, output_blob = put_blob(b"state"), put_blob(b"payload"), put_blob(b"out")
    run = make_run()
    add_events(run, {"kind": "checkpoint", "payload": {"snapshot": {"digest": payload_blob.digest.upper()}}})
    finish_run(run, final_state_digest=state.digest)
    emit(event={"type": "artifact", "name": "x", "content": {"kind": "blob", "digest": output_blob.digest}})
    for blob, what in ((state, "final_state_digest"), (payload_blob, "run event"), (output_blob, "output")):
        with pytest.raises(StateConflictError, match=what):
            blobstore.delete_blob(blob.digest)


def test_it_refuses_to_delete_a_blob_a_release_refers_to(put_blob):
    from django.apps import apps

    try:
        release_model = apps.get_model("releases", "Release")
    except LookupError:
        pytest.skip("the releases app is not installed")
    blob = put_blob(b"released spec")
    release_model.objects.append(**_release_fields(release_model, blob.digest))
    with pytest.raises(StateConflictError, match="release"):
        blobstore.delete_blob(blob.digest)


def _release_fields(model, digest):
    names = {f.name for f in model.content_fields()}
    fields = {"name": "coder", "spec_digest": digest}
    for name, value in (("promoted_by", "alice"), ("version_label", "v1"), ("notes", ""), ("action", "promote")):
        if name in names:
            fields[name] = value
    return fields


def test_digests_are_found_anywhere_in_a_payload():
    d1, d2 = hashlib.sha256(b"1").hexdigest(), hashlib.sha256(b"2").hexdigest()
    assert digests_in({"a": [d1, {"b": d2.upper()}], "c": "not a digest", "n": 3}) == sorted([d1, d2])


# --- RunLedger ----------------------------------------------------------------------------------------


def test_create_run_returns_unique_ids(make_run):
    ids = {make_run().run_id for _ in range(5)}
    assert len(ids) == 5
    assert all(isinstance(run_id, uuid.UUID) and run_id.version == 4 for run_id in ids)


def test_get_run_returns_created_run_running_without_summary(make_run):
    run = make_run(agent_name="planner", git_sha="deadbeef", tags={"env": "ci"})
    got = Run.objects.with_status().get(run_id=run.run_id)
    assert got.status == RunStatus.RUNNING
    assert got.outcome_or_none is None
    assert (got.spec_digest, got.agent_name, got.git_sha, got.tags) == (SPEC, "planner", "deadbeef", {"env": "ci"})


def test_get_run_not_found():
    assert not Run.objects.filter(run_id=uuid.uuid4()).exists()


def test_it_rejects_a_malformed_spec_digest(make_run):
    with pytest.raises(ValidationError):
        make_run(spec_digest="abc")


def test_append_and_get_events_ordered(make_run, add_events):
    run = make_run()
    for seq in (2, 1, 3):
        add_events(run, {"seq": seq, "kind": f"k{seq}"})
    assert list(RunEvent.objects.for_run(run).values_list("event_seq", "kind")) == [(1, "k1"), (2, "k2"), (3, "k3")]


def test_it_numbers_events_without_a_seq_above_the_highest_so_far(make_run, add_events):
    run = make_run()
    add_events(run, {"seq": 5, "kind": "late"})
    add_events(run, {"kind": "a"}, {"kind": "b"})
    assert list(RunEvent.objects.for_run(run).values_list("event_seq", flat=True)) == [5, 6, 7]


def test_it_refuses_a_repeated_seq_and_keeps_the_first(make_run, add_events):
    run = make_run()
    add_events(run, {"seq": 1, "kind": "first", "payload": {"v": 1}})
    with pytest.raises(ConflictError) as caught:
        add_events(run, {"seq": 1, "kind": "second", "payload": {"v": 2}})
    assert caught.value.identical is False
    with pytest.raises(ConflictError) as caught:
        add_events(run, {"seq": 1, "kind": "first", "payload": {"v": 1}})
    assert caught.value.identical is True
    assert list(RunEvent.objects.for_run(run).values_list("kind", "payload")) == [("first", {"v": 1})]


def test_a_batch_of_events_is_atomic(make_run, add_events):
    run = make_run()
    add_events(run, {"seq": 2, "kind": "there"})
    with pytest.raises(ConflictError):
        add_events(run, {"seq": 1, "kind": "new"}, {"seq": 2, "kind": "clash"})
    assert list(RunEvent.objects.for_run(run).values_list("event_seq", flat=True)) == [2]


def test_the_same_seq_in_two_runs_is_fine(make_run, add_events):
    add_events(make_run(), {"seq": 1})
    add_events(make_run(), {"seq": 1})
    assert RunEvent.objects.count() == 2


def test_complete_run_sets_status_summary_and_completed_at(make_run, finish_run):
    run = make_run()
    final_digest = hashlib.sha256(b"final").hexdigest()
    finish_run(run, RunStatus.COMPLETED, total_events=3, duration_ms=1500, final_state_digest=final_digest)
    got = Run.objects.with_status().get(pk=run.pk)
    assert got.status == RunStatus.COMPLETED
    assert got.outcome.summary() == {
        "total_events": 3,
        "final_state_digest": final_digest,
        "duration_ms": 1500,
        "success": True,
    }
    assert got.outcome.completed_at is not None


@pytest.mark.parametrize("status", [RunStatus.FAILED, RunStatus.CANCELLED])
def test_fail_and_cancel_set_status(make_run, finish_run, status):
    run = make_run()
    finish_run(run, status)
    got = Run.objects.with_status().get(pk=run.pk)
    assert got.status == status
    assert got.outcome.success is False


def test_it_rejects_a_success_flag_that_contradicts_the_status(make_run):
    run = make_run()
    with pytest.raises(ValidationError, match="success"):
        RunOutcome.objects.append(run=run, status="FAILED", total_events=0, duration_ms=0, success=True)


def test_cannot_append_to_completed_run(make_run, add_events, finish_run):
    run = make_run()
    finish_run(run)
    with pytest.raises(StateConflictError, match="COMPLETED"):
        add_events(run, {"kind": "late"})
    assert RunEvent.objects.count() == 0


def test_cannot_complete_twice(make_run, finish_run):
    run = make_run()
    finish_run(run)
    with pytest.raises(StateConflictError):
        finish_run(run, RunStatus.FAILED)
    assert RunOutcome.objects.count() == 1


def test_list_runs_all_newest_first(make_run):
    runs = [make_run() for _ in range(3)]
    assert list(Run.objects.newest_first().values_list("pk", flat=True)) == [r.pk for r in reversed(runs)]


def test_list_runs_filtered_by_spec(make_run):
    other = hashlib.sha256(b"other").hexdigest()
    mine = [make_run(), make_run()]
    make_run(spec_digest=other)
    assert {r.pk for r in Run.objects.for_spec(SPEC)} == {r.pk for r in mine}


def test_run_status_is_derived_for_lists(make_run, finish_run):
    running, done, failed = make_run(), make_run(), make_run()
    finish_run(done)
    finish_run(failed, RunStatus.FAILED)
    assert [r.pk for r in Run.objects.with_status_name("RUNNING")] == [running.pk]
    assert [r.pk for r in Run.objects.with_status_name("failed")] == [failed.pk]


def test_runs_are_append_only(make_run):
    run = make_run()
    with pytest.raises(ImmutableEntryError):
        run.save()
    with pytest.raises(ImmutableEntryError):
        Run.objects.filter(pk=run.pk).update(agent_name="x")


# --- OutputStore ------------------------------------------------------------------------------------


def test_append_then_get_roundtrip(emit):
    output = emit("task-1", 1, "producer-a", final("hello"))
    got = Output.objects.get(output_id=output.output_id)
    assert (got.task_id, got.attempt, got.producer_agent) == ("task-1", 1, "producer-a")
    assert got.event == {"type": "final", "content": {"kind": "inline", "value": "hello"}, "ok": True}


def test_get_not_found_returns_nothing():
    assert not Output.objects.filter(output_id="missing").exists()


def test_list_for_attempt_orders_by_insertion(emit):
    a = emit("t", 1, "p1", final("a"))
    b = emit("t", 1, "p2", final("b"))
    emit("t", 2, "p1", final("other-attempt"))
    c = emit("t", 1, "p3", final("c"))
    assert [o.output_id for o in Output.objects.for_attempt("t", 1)] == [a.output_id, b.output_id, c.output_id]


def test_get_latest_by_name_returns_newest_emit(emit):
    emit("t", 1, "same-producer", final("v1"))
    emit("t", 1, "other-producer", final("unrelated"))
    latest = emit("t", 2, "same-producer", final("v2"))
    assert Output.objects.latest_by_name("same-producer").pk == latest.pk


def test_get_latest_by_name_unknown_returns_none():
    assert Output.objects.latest_by_name("nobody") is None


def test_get_latest_by_name_in_run_does_not_cross_resolve_between_runs(emit):
    run_a = emit("task-a", 1, "shared", final("from a"))
    emit("task-b", 1, "shared", final("from b, newer"))
    assert Output.objects.latest_by_name_in_run("task-a", 1, "shared").pk == run_a.pk


def test_get_latest_by_name_in_run_returns_newest_within_run(emit):
    emit("t", 1, "p", final("old"))
    newest = emit("t", 1, "p", final("new"))
    assert Output.objects.latest_by_name_in_run("t", 1, "p").pk == newest.pk


def test_get_latest_by_name_in_run_wrong_run_returns_none(emit):
    emit("t", 1, "p", final("only here"))
    assert Output.objects.latest_by_name_in_run("t", 2, "p") is None
    assert Output.objects.latest_by_name_in_run("other", 1, "p") is None


def test_parent_refs_are_persisted(emit):
    parent = emit(event=final("parent"))
    child = emit(event=final("child"), parent_refs=[parent.output_id])
    assert Output.objects.get(pk=child.pk).parent_refs == [parent.output_id]


def test_it_rejects_a_parent_ref_that_does_not_exist(emit):
    with pytest.raises(ValidationError, match="out-missing"):
        emit(parent_refs=["out-missing"])
    assert Output.objects.count() == 0


def test_out_ref_is_short_prefixed_and_random():
    ids = {mint_output_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(i.startswith("out-") and len(i) == 24 and int(i[4:], 16) >= 0 for i in ids)


@pytest.mark.django_db(transaction=True)
def test_persists_across_reopen(emit):
    output = emit("keep", 1, "p", final("body"))
    connection.close()
    assert Output.objects.get(output_id=output.output_id).task_id == "keep"


@pytest.mark.parametrize(
    "event, message",
    [
        ({"type": "bogus"}, "event.type"),
        ({"type": "final", "content": {"kind": "inline", "value": 1}}, "ok"),
        ({"type": "progress"}, "stage"),
        ({"type": "artifact", "name": "x", "content": {"kind": "file_ref", "path": "/tmp/x"}}, "blobs"),
        ({"type": "partial", "chunk": {"kind": "blob", "digest": "nope"}}, "digest"),
        ({"type": "final", "ok": True, "content": {"kind": "inline", "value": 1}, "extra": 1}, "unknown"),
    ],
)
def test_it_rejects_malformed_output_events(emit, event, message):
    with pytest.raises(ValidationError, match=message):
        emit(event=event)


def test_an_output_may_point_at_a_stored_blob_but_not_a_missing_one(emit, put_blob):
    blob = put_blob(b"artifact bytes")
    ok = emit(event={"type": "artifact", "name": "report", "content": {"kind": "blob", "digest": blob.digest.upper()}})
    assert ok.blob_digest == blob.digest
    with pytest.raises(ValidationError, match="not stored"):
        emit(event={"type": "partial", "chunk": {"kind": "blob", "digest": hashlib.sha256(b"?").hexdigest()}})


@pytest.mark.postgres
def test_a_lists_blob_presence_is_probed_per_row_whatever_the_planner_estimates(put_blob, make_run, make_user):
    # A list reads one page: the presence must be an index probe for each of its rows. PostgreSQL may
    # otherwise turn the EXISTS into a hashed subplan over every stored blob (each with its latest change
    # looked up), chosen when probes look dear: a release list took 70 ms at 20,000 blobs that way.
    for index in range(3):
        make_run(spec_digest=put_blob(f"spec {index}".encode()).digest)
    rows = Run.objects.annotate(
        spec_present=Blob.objects.presence_visible_to(make_user("root", superuser=True), "spec_digest")
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE runs_blobchange")
        cursor.execute("SET LOCAL random_page_cost = 1000")  # probes look dear: the hashed plan's bait
    plan = rows.explain(verbose=True)
    # The list's first Output names the presence last: a subplan run per row, not a hashed one.
    selected = next(line for line in plan.splitlines() if "Output:" in line).rstrip()
    assert re.search(r"(?<!hashed )SubPlan \d+\)+$", selected) and "hashed SubPlan" not in plan, plan
    assert sum(rows.values_list("spec_present", flat=True)) == 3
