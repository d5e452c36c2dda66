"""A batch's stored keys checked by the table's unique index at the insert (PostgreSQL): the same answers, no query."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enhancelog.models import EnhanceEntry
from enhancelog.tests.conftest import entry_json
from experience.models import ExperienceEvent
from ledgerproject.ledger import clock
from ledgerproject.ledger.exceptions import BatchValidationError, ConflictError
from ledgerproject.ledger.models import append as append_path
from ledgerproject.ledger.tests.test_fast_batch_equivalence import batch_ledgers
from logchain.models import LogRecord
from runs.models import Output, RunEvent

pytestmark = pytest.mark.django_db


def _key_reads(queries):
    """The statements that looked for stored keys (the CASE of _conflicts_and_tip_sql)."""
    return [query["sql"] for query in queries if "CASE WHEN" in query["sql"]]


@pytest.mark.parametrize("model", [EnhanceEntry, ExperienceEvent, LogRecord, Output, RunEvent])
def test_its_batch_ledgers_have_a_unique_index_that_refuses_every_stored_key(model):
    assert model in batch_ledgers().values()
    assert append_path._unique_index_refuses_stored_keys(model)


def test_it_keeps_the_query_where_no_unique_index_covers_the_natural_key(monkeypatch):
    uncached = append_path._unique_index_refuses_stored_keys.__wrapped__
    # The issue id's index is over (issue_id, COALESCE(tenant_id, '')): no help for a key without issue_id.
    monkeypatch.setattr(EnhanceEntry, "natural_key_fields", ("tenant_id", "blueprint_id"))
    assert not uncached(EnhanceEntry)
    # A plain unique index lets NULLs repeat; the key check matches None with None.
    monkeypatch.setattr(ExperienceEvent, "natural_key_fields", ("correlation_id",))
    assert not uncached(ExperienceEvent)


@pytest.mark.postgres
def test_it_reads_no_keys_under_the_lock_when_the_unique_index_checks_them():
    EnhanceEntry.objects.append_many([entry_json("k1"), entry_json("k2", tenant_id="acme")])
    with CaptureQueriesContext(connection) as queries:
        appended = EnhanceEntry.objects.append_many([entry_json(f"n{i}") for i in range(20)])
    assert [entry.seq for entry in appended] == list(range(3, 23))
    assert _key_reads(queries.captured_queries) == []
    assert EnhanceEntry.objects.count() == 22


@pytest.mark.postgres
@pytest.mark.parametrize("tenant", [None, "acme"])
@pytest.mark.parametrize("identical", [True, False])
def test_it_answers_a_stored_key_found_by_the_insert_with_the_same_409(tenant, identical):
    first = entry_json("k1", tenant_id=tenant)
    EnhanceEntry.objects.append_many([first, entry_json("k2")])
    stored = EnhanceEntry.objects.get(issue_id="k1")
    batch = [entry_json(f"n{i}", tenant_id=tenant) for i in range(15)]
    batch.insert(9, first if identical else {**first, "intent": "other"})
    batch.insert(12, entry_json("k2"))  # a later stored key: the first in batch order is reported
    with CaptureQueriesContext(connection) as queries, pytest.raises(ConflictError) as conflict:
        EnhanceEntry.objects.append_many(batch)
    assert conflict.value.index == 9
    assert conflict.value.identical is identical
    assert conflict.value.existing.seq == stored.seq
    assert len(_key_reads(queries.captured_queries)) == 1  # only after the insert was refused
    assert EnhanceEntry.objects.count() == 2


@pytest.mark.postgres
def test_it_leaves_the_callers_transaction_usable_after_a_refused_key():
    EnhanceEntry.objects.append_many([entry_json("k1"), entry_json("k2")])
    with transaction.atomic():
        with pytest.raises(ConflictError):
            EnhanceEntry.objects.append_many([entry_json("n1"), entry_json("k1")])
        appended = EnhanceEntry.objects.append_many([entry_json("n1"), entry_json("n2")])
    assert [entry.seq for entry in appended] == [3, 4]  # the refused rows rolled back: seq stays gapless
    assert list(EnhanceEntry.objects.values_list("issue_id", flat=True)) == ["k1", "k2", "n1", "n2"]


@pytest.mark.postgres
def test_it_refuses_a_repeat_inside_the_batch_before_the_insert():
    EnhanceEntry.objects.append_many([entry_json("k1"), entry_json("k2")])
    with pytest.raises(BatchValidationError) as refused:
        EnhanceEntry.objects.append_many([entry_json("n1"), entry_json("n2"), entry_json("n1")])
    assert refused.value.items[0][0] == 2
    assert EnhanceEntry.objects.count() == 2


@pytest.mark.postgres
def test_it_raises_a_refusal_that_no_stored_key_explains_as_it_came():
    # COALESCE makes no tenant and the tenant "" one key for the index, two for the key check: the
    # insert's refusal is raised unchanged, as it was when the check let the batch through.
    EnhanceEntry.objects.append_many([entry_json("k1", tenant_id=""), entry_json("k2")])
    with pytest.raises(IntegrityError):
        EnhanceEntry.objects.append_many([entry_json("n1"), entry_json("k1")])
    assert EnhanceEntry.objects.count() == 2


@pytest.mark.postgres
def test_it_reports_a_stored_key_before_a_backdated_clock_going_back():
    EnhanceEntry.objects.append_many([entry_json("k1"), entry_json("k2")])
    with clock.backdated(timezone.now() - timezone.timedelta(days=1)), pytest.raises(ConflictError) as conflict:
        EnhanceEntry.objects.append_many([entry_json("n1"), entry_json("k2")])
    assert conflict.value.index == 1
    with clock.backdated(timezone.now() - timezone.timedelta(days=1)), pytest.raises(ValueError, match="before"):
        EnhanceEntry.objects.append_many([entry_json("n1"), entry_json("n2")])


def _log(i, node=42, **overrides):
    return {"seq": i, "ts_ms": 5 + i, "level": "Info", "node_id": node, "message": f"m{i}", **overrides}


def _event(i, **overrides):
    body = {
        "event_id": f"ev-{i}",
        "occurred_at": "2026-01-21T12:00:00Z",
        "tenant_id": "acme",
        "event": {"type": "OutcomeRecorded", "data": {"chain_id": "c", "step": "Planning", "passed": True}},
    }
    return {**body, **overrides}


# (url, stored array, arrays that meet it: stored keys identical and not, repeats within, all new). Outputs
# are left out: the server mints their ids, so an array of them cannot meet a stored key through the API.
CASES = {
    "enhancelog": (
        "/api/v1/enhances/",
        [entry_json("s1"), entry_json("s2", tenant_id="acme")],
        [
            [entry_json("a1"), entry_json("s1"), entry_json("a2")],
            [entry_json("a1"), entry_json("a2"), entry_json("s2", tenant_id="acme", intent="changed")],
            [entry_json("a1"), entry_json("s2"), entry_json("a2")],  # another tenant's key: no conflict
            [entry_json("a1"), entry_json("a1")],
            [entry_json(f"a{i}") for i in range(30)],
        ],
    ),
    "logchain": (
        "/api/v1/logs/",
        [_log(1), _log(2, tenant_id="acme")],
        [
            [_log(3), _log(1), _log(4)],
            [_log(3), _log(2, tenant_id="acme", message="changed")],
            [_log(3), _log(3)],
            [_log(i, node=43) for i in range(1, 30)],
        ],
    ),
    "experience": (
        "/api/v1/events/",
        [_event(1), _event(2)],
        [
            [_event(3), _event(1)],
            [_event(3), _event(2, correlation_id="changed")],
            [_event(3), _event(3)],
            [_event(i) for i in range(10, 30)],
        ],
    ),
}


def _answer(api, url, array, model, moment):
    with transaction.atomic(), clock.backdated(moment):
        response = api.post(url, array, format="json")
        rows = list(model._base_manager.order_by("seq").values())
        transaction.set_rollback(True)
    return response.status_code, response.json(), rows


@pytest.mark.postgres
@pytest.mark.parametrize("name", sorted(CASES))
def test_its_answers_and_rows_are_those_of_the_key_query_under_the_lock(name, root_api, monkeypatch):
    model = batch_ledgers()[name]
    url, stored, arrays = CASES[name]
    assert root_api.post(url, stored, format="json").status_code == 201
    moment = timezone.now()
    taken = []
    real = append_path.leaves_keys_to_insert
    statuses = set()
    for array in arrays:
        monkeypatch.setattr(
            "ledgerproject.ledger.models.entries.leaves_keys_to_insert",
            lambda *args: taken.append(real(*args)) or taken[-1],
        )
        at_insert = _answer(root_api, url, array, model, moment)
        monkeypatch.setattr("ledgerproject.ledger.models.entries.leaves_keys_to_insert", lambda *args: False)
        under_lock = _answer(root_api, url, array, model, moment)
        assert at_insert == under_lock, array
        statuses.add(at_insert[0])
    assert {201, 409, 400} <= statuses
    assert taken and all(taken)  # every array that reached the lock took the new path


def test_it_reads_no_keys_for_a_batch_whose_keys_the_ledger_numbers():
    from runs.models import Run

    run = Run.objects.create_run("a" * 64, "agent")
    RunEvent.objects.append_events(run, [{"kind": "k", "payload": {}} for _ in range(3)])
    with CaptureQueriesContext(connection) as queries:
        numbered = RunEvent.objects.append_events(run, [{"kind": "k", "payload": {"i": i}} for i in range(5)])
    assert [event.event_seq for event in numbered] == [4, 5, 6, 7, 8]
    assert _key_reads(queries.captured_queries) == []
    # An event that names its own seq can meet a stored one: that batch still looks, and answers 409.
    with CaptureQueriesContext(connection) as queries, pytest.raises(ConflictError) as conflict:
        RunEvent.objects.append_events(
            run, [{"kind": "k", "payload": {}}, {"kind": "k", "payload": {}, "event_seq": 2}]
        )
    assert conflict.value.index == 1 and conflict.value.existing.event_seq == 2
    assert len(_key_reads(queries.captured_queries)) == 1
    assert RunEvent.objects.filter(run=run).count() == 8
