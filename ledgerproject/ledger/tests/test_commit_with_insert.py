"""A single append in the connection's own transaction commits in its INSERT's message (the ledger's lock goes with
it); inside a caller's transaction it leaves the commit to the caller. PostgreSQL only: SQLite sends one statement
at a time."""

import psycopg
import pytest
from django.db import DataError, connection, transaction
from psycopg.pq import TransactionStatus

from ledgerproject.ledger.chain import verify_chain
from ledgerproject.ledger.models import append as append_module
from ledgerproject.ledger.models import entries as entries_module
from ledgerproject.ledger.signals import entries_appended
from ledgerproject.ledger.tests.test_fast_batch_equivalence import ARRAYS, stored_world
from tests.ledger_testapp.models import Note

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _rows_seen_elsewhere(model, seq):
    """How many rows of `model` with `seq` another connection sees: committed ones only."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or None,
    ) as other:
        return other.execute(f'SELECT count(*) FROM "{model._meta.db_table}" WHERE seq = %s', [seq]).fetchone()[0]


@pytest.fixture
def single_inserts(monkeypatch):
    """For each single entry's INSERT message, as it returns: (ledger, its transaction's state, how many rows with
    the entry's seq another connection sees)."""
    seen = []
    original = entries_module._insert_one_with_rollups

    def spy(model, entries, db, commit=False):
        done = original(model, entries, db, commit=commit)
        if done:
            state = connection.connection.info.transaction_status
            seen.append((model.ledger_name, state, _rows_seen_elsewhere(model, entries[0].seq)))
        return done

    monkeypatch.setattr(entries_module, "_insert_one_with_rollups", spy)
    return seen


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_a_single_append_over_the_api_is_committed_when_its_insert_returns(name, root_api, single_inserts):
    url, arrays = ARRAYS[name](stored_world(root_api))
    single_inserts.clear()

    response = root_api.post(url, arrays[0][0], format="json")

    assert response.status_code == 201, response.content
    assert len(single_inserts) == 1
    _ledger, state, seen_elsewhere = single_inserts[0]
    # Committed by the message itself: no transaction left open, and the row is already everyone's.
    assert state == TransactionStatus.IDLE
    assert seen_elsewhere == 1


def test_a_promote_is_committed_with_its_insert(root_api, single_inserts):
    response = root_api.post(
        "/api/v1/releases/bp-commit/promote/",
        {"spec_digest": "ab" * 32, "version_label": "v1", "promoted_by": "ci"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert [(state, seen) for _ledger, state, seen in single_inserts] == [(TransactionStatus.IDLE, 1)]


def test_inside_a_callers_transaction_the_commit_stays_the_callers(single_inserts):
    with pytest.raises(RuntimeError), transaction.atomic():
        Note.objects.append(key="undone", count=1)
        raise RuntimeError("the caller changes its mind")
    assert single_inserts == [("testnotes", TransactionStatus.INTRANS, 0)]
    assert not Note.objects.filter(key="undone").exists()

    single_inserts.clear()
    with transaction.atomic():
        Note.objects.append(key="kept", count=1)
    assert single_inserts == [("testnotes", TransactionStatus.INTRANS, 0)]
    assert Note.objects.get(key="kept").seq == 1


def test_a_statement_that_fails_in_the_message_stores_nothing_and_the_ledger_goes_on(monkeypatch):
    # The rollups' UPSERT runs between the INSERT and the COMMIT: make it fail.
    monkeypatch.setattr(append_module, "record_statement", lambda model, entries, db: ("SELECT 1 / 0", []))
    with pytest.raises(DataError):
        Note.objects.append(key="lost", count=1)
    assert not Note.objects.exists()
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE

    monkeypatch.undo()
    stored = Note.objects.append(key="next", count=2)
    assert stored.seq == 1  # the failed append took no seq
    assert verify_chain(Note).ok


def test_the_appended_signal_comes_once_after_the_commit():
    heard = []

    def receiver(sender, first_seq, last_seq, using, **kwargs):
        heard.append((sender, first_seq, last_seq, _rows_seen_elsewhere(sender, first_seq)))

    entries_appended.connect(receiver)
    try:
        Note.objects.append(key="announced", count=1)
    finally:
        entries_appended.disconnect(receiver)
    assert heard == [(Note, 1, 1, 1)]


def _comparable(params):
    """Parameters as values: psycopg's JSON wrappers compare by what they wrap."""
    return [(type(param), param.obj) if hasattr(param, "obj") else param for param in params]


def test_the_insert_written_once_per_ledger_is_the_compilers_for_every_stored_entry(root_api):
    """insert_statement() writes a ledger's INSERT once and then only prepares values: for every entry stored by
    the single appends of every ledger, the statement and values are the ones Django's compiler writes."""
    from django.db.models import sql

    from ledgerproject.ledger.registry import ledger_models

    world = stored_world(root_api)
    for name in sorted(ARRAYS):
        url, arrays = ARRAYS[name](world)
        assert root_api.post(url, arrays[0][0], format="json").status_code == 201
    promote = {"spec_digest": "cd" * 32, "version_label": "v1", "promoted_by": "ci"}
    assert root_api.post("/api/v1/releases/bp-text/promote/", promote, format="json").status_code == 201

    compared = set()
    for model in ledger_models():
        fields = [field for field in model._meta.concrete_fields if not field.generated]
        for entry in model.objects.order_by("seq"):
            # Written by the appends above: what follows is the prepared-values path, not the compiler's.
            assert (model, connection.vendor) in append_module._INSERT_TEXTS, model.ledger_name
            query = sql.InsertQuery(model)
            query.insert_values(fields, [entry])
            [(expected, expected_params)] = query.get_compiler(connection=connection).as_sql()
            statement, params = append_module.insert_statement(model, entry, connection)
            assert statement == expected
            assert _comparable(params) == _comparable(expected_params)
            compared.add(model.ledger_name)
    assert compared >= {*ARRAYS, "releases"}
