"""Concurrent appends from separate connections: seqs exactly 1..N, one valid chain."""

import threading

import pytest
from django.db import connection, connections

from ledgerproject.ledger.chain import verify_chain
from tests.ledger_testapp.models import Note

WRITERS = 50


def _append_from_own_connection(index, barrier, errors):
    try:
        barrier.wait(timeout=30)
        Note.objects.append(key=f"writer-{index}", count=index)
    except Exception as exc:  # noqa: BLE001 - collected and asserted on below
        errors.append(exc)
    finally:
        connections.close_all()


def _run_writers(count):
    barrier = threading.Barrier(count)
    errors = []
    threads = [threading.Thread(target=_append_from_own_connection, args=(i, barrier, errors)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_appends_get_seqs_one_to_fifty_with_a_valid_chain():
    assert connection.vendor == "postgresql"
    errors = _run_writers(WRITERS)
    assert errors == []
    assert sorted(Note.objects.values_list("seq", flat=True)) == list(range(1, WRITERS + 1))
    assert len(set(Note.objects.values_list("key", flat=True))) == WRITERS
    result = verify_chain(Note)
    assert result.ok and result.checked == WRITERS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_of_one_key_store_it_once():
    barrier = threading.Barrier(8)
    outcomes = []

    def append_same():
        try:
            barrier.wait(timeout=30)
            Note.objects.append(key="same", count=1)
            outcomes.append("stored")
        except Exception as exc:  # noqa: BLE001
            outcomes.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append_same) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ConflictError"] * 7 + ["stored"]
    assert Note.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_sequential_writers_on_separate_connections_keep_the_chain(make_note):
    """On SQLite too: appends from several threads (each its own connection) stay gapless."""
    errors = _run_writers(6)
    assert errors == []
    assert sorted(Note.objects.values_list("seq", flat=True)) == list(range(1, 7))
    assert verify_chain(Note).ok
