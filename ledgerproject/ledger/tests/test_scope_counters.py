"""The per-scope counter hook (LedgerEntry.scope_counters): numbers assigned under the ledger's lock."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from ledgerproject.ledger import hashing
from ledgerproject.ledger.chain import verify_chain
from ledgerproject.ledger.exceptions import BatchValidationError
from ledgerproject.ledger.models import append as append_path
from logchain.models import LogRecord
from runs.models import Run, RunEvent

SPEC = "a" * 64


def _log(node_id, message="m", **extra):
    return {"node_id": node_id, "ts_ms": 1_700_000_000_000, "level": "Info", "message": message, **extra}


@pytest.mark.parametrize(
    "content",
    [
        {"a": 1, "node_seq": None, "z": "x"},
        {"node_seq": None},
        {"b": {"node_seq": 99, "é": [1, 2.5]}, "node_seq": None, "message": "\u2028 \U0001f600"},
        {"\U0001f600": 1, "\uffff": 2, "node_seq": None, "a": None},  # UTF-16 order differs from code points
        {"a": 1.5, "node_seq": None, "seq_b": None, "t": 1e-7},
    ],
)
def test_it_splices_counters_into_exactly_the_canonical_text_of_the_whole_content(content):
    holes = [key for key in content if key in ("node_seq", "seq_b")]
    parts = hashing.canonical_parts(content, holes)
    values = {key: 7 + i for i, key in enumerate(holes)}
    assert hashing.fill_parts(parts, values) == hashing.canonical_json({**content, **values})


@pytest.mark.django_db
def test_it_numbers_records_left_without_a_counter_per_scope_and_the_chain_verifies():
    LogRecord.objects.append_many([_log(1, node_seq=1), _log(2, node_seq=4)])
    stored = LogRecord.objects.append_many([_log(1), _log(2), _log(1), _log(3)])
    assert [(r.node_id, r.node_seq) for r in stored] == [(1, 2), (2, 5), (1, 3), (3, 1)]
    for record in stored:
        # The stored canonical is the canonical of the stored columns, counter included.
        assert record.hashed_content_json() == hashing.canonical_json(record.ledger_content())
    result = verify_chain(LogRecord)
    assert result.ok and result.checked == 6


@pytest.mark.django_db
def test_a_number_given_in_the_batch_counts_for_the_ones_after_it():
    run = Run.objects.create_run(spec_digest=SPEC, agent_name="coder")
    events = RunEvent.objects.append_events(run, [{"kind": "a"}, {"kind": "b", "event_seq": 5}, {"kind": "c"}])
    assert [event.event_seq for event in events] == [1, 5, 6]


@pytest.mark.django_db
def test_an_assigned_number_that_repeats_one_given_later_in_the_batch_is_refused_whole():
    run = Run.objects.create_run(spec_digest=SPEC, agent_name="coder")
    with pytest.raises(BatchValidationError) as caught:
        RunEvent.objects.append_events(run, [{"kind": "a"}, {"kind": "b", "event_seq": 1}])
    assert caught.value.items[0][0] == 1
    assert not RunEvent.objects.exists()


@pytest.mark.django_db
def test_a_refused_entry_without_a_counter_is_refused_before_the_ledger_is_touched():
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationError):
        LogRecord.objects.append(**_log(1, level="Loud"))
    assert len(queries) == 0


@pytest.mark.django_db
def test_the_counter_is_read_after_the_tip_and_the_content_is_hashed_before_the_lock(monkeypatch):
    LogRecord.objects.append(**_log(9, node_seq=3))
    locked = []
    under_lock = []
    real_fetch = append_path.lock_ledger_then_fetch_all
    real_canonical = hashing.canonical_json

    def fetch(*args, **kwargs):
        locked.append(True)
        return real_fetch(*args, **kwargs)

    def canonical(value):
        if locked:
            under_lock.append(value)
        return real_canonical(value)

    monkeypatch.setattr(append_path, "lock_ledger_then_fetch_all", fetch)
    monkeypatch.setattr(hashing, "canonical_json", canonical)
    with CaptureQueriesContext(connection) as queries:
        record = LogRecord.objects.append(**_log(9, message="a long message " * 50))
    assert record.node_seq == 4
    # Each statement on its own: on PostgreSQL the lock, the tip and the counter share one message.
    sql = [statement for query in queries for statement in query["sql"].split("; ")]
    tip = next(i for i, text in enumerate(sql) if "MAX(" in text and "node_seq" not in text.split("MAX(")[1][:40])
    counter = next(i for i, text in enumerate(sql) if '"node_seq")' in text and "MAX(" in text)
    assert tip < counter
    if connection.vendor == "postgresql":
        assert "pg_advisory_xact_lock" in sql[tip - 1]
        message = next(query["sql"] for query in queries if "pg_advisory_xact_lock" in query["sql"])
        assert sql[tip] in message and sql[counter] in message
    # Under the lock only the counter's key and number are canonicalized, never the record's content.
    assert locked and under_lock and all(not isinstance(value, dict) for value in under_lock)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_without_counters_get_gapless_numbers_per_scope():
    workers, per_worker, nodes = 6, 5, (1, 2)
    barrier = threading.Barrier(workers)
    errors = []

    def append(index):
        try:
            barrier.wait(timeout=30)
            for n in range(per_worker):
                LogRecord.objects.append_many([_log(node, f"w{index}-{n}") for node in nodes])
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    for node in nodes:
        numbers = sorted(LogRecord.objects.filter(node_id=node).values_list("node_seq", flat=True))
        assert numbers == list(range(1, workers * per_worker + 1))
    assert verify_chain(LogRecord).ok


def test_the_system_check_refuses_a_counter_outside_the_natural_key_or_not_an_integer(monkeypatch):
    from ledgerproject.ledger.checks import _scope_counter_errors

    assert _scope_counter_errors(LogRecord) == [] and _scope_counter_errors(RunEvent) == []
    monkeypatch.setattr(LogRecord, "scope_counters", {"node_seq": ("daemon_id",)})
    assert [error.id for error in _scope_counter_errors(LogRecord)] == ["ledger.E024"]
    assert "daemon_id" in _scope_counter_errors(LogRecord)[0].msg
    monkeypatch.setattr(LogRecord, "scope_counters", {"level": ("node_id",)})
    assert "not an integer field" in _scope_counter_errors(LogRecord)[0].msg
