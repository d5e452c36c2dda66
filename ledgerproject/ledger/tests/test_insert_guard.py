"""Every registered ledger refuses rewriting statements in the database itself, on any connection.

SQLite: REPLACE / INSERT OR REPLACE (which delete the conflicting row without firing DELETE triggers),
a raw INSERT reusing a seq or a unique key, and a seq gap are refused by the insert guard stored in
the database file, so a separate `sqlite3` connection (the shell) is refused too. PostgreSQL: UPDATE,
DELETE, TRUNCATE, INSERT … ON CONFLICT DO UPDATE and MERGE are refused by the row/statement triggers.
"""

import sqlite3
import time
import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from ledgerproject.ledger.checkpoints import Checkpoint
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.tests.conftest import insert_raw_row
from ledgerproject.ledger.triggers import unique_column_sets

LEDGERS = ledger_models()
ids = [m.ledger_name for m in LEDGERS]

SQLITE_ATTACKS = [
    "update",
    "delete",
    "replace_into_head",
    "insert_or_replace_head",
    "insert_or_replace_key",
    "insert_reusing_seq",
    "insert_reusing_key",
    "insert_with_gap_seq",
]


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def _row(cursor, model, pk, placeholder):
    table = _quote(model._meta.db_table)
    pk_column = _quote(model._meta.pk.column)
    cursor.execute(f"SELECT * FROM {table} WHERE {pk_column} = {placeholder}", [pk])
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def _key_sets(model):
    """The unique column sets other than the primary key."""
    return [cols for cols, _ in unique_column_sets(model) if cols != (model._meta.pk.column,)]


def _fresh(value):
    """Another value of the same type, for a unique column."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value + 1_000_000
    if isinstance(value, str):
        return uuid.uuid4().hex[: max(1, len(value))] if len(value) < 32 else uuid.uuid4().hex
    if isinstance(value, bytes | memoryview):
        return uuid.uuid4().bytes
    return value


def _with_fresh_keys(model, row):
    row = dict(row)
    for columns in _key_sets(model):
        fields = {f.column: f for f in model._meta.local_concrete_fields}
        # Change one plain column of each set (not a foreign key, which must point at a real row).
        column = next((c for c in columns if not fields[c].is_relation), columns[-1])
        row[column] = _fresh(row[column])
    return row


def _attack(model, kind, row, placeholder):
    """(SQL, params) of one attack on the stored head `row`, or None when `kind` does not apply."""
    table = _quote(model._meta.db_table)
    head = row["seq"]

    def insert(values, verb="INSERT"):
        columns = ", ".join(_quote(c) for c in values)
        marks = ", ".join([placeholder] * len(values))
        return f"{verb} INTO {table} ({columns}) VALUES ({marks})", list(values.values())

    if kind == "update":
        return f"UPDATE {table} SET {_quote('recorded_by_name')} = 'mallory'", []
    if kind == "delete":
        return f"DELETE FROM {table}", []
    if kind == "replace_into_head":
        return insert({**row, "recorded_by_name": "mallory"}, "REPLACE")
    if kind == "insert_or_replace_head":
        return insert({**row, "recorded_by_name": "mallory"}, "INSERT OR REPLACE")
    if kind == "insert_or_replace_key":
        if not _key_sets(model):
            return None
        return insert({**row, "seq": head + 1, "recorded_by_name": "mallory"}, "INSERT OR REPLACE")
    if kind == "insert_reusing_seq":
        return insert({**_with_fresh_keys(model, row), "recorded_by_name": "mallory"})
    if kind == "insert_reusing_key":
        if not _key_sets(model):
            return None
        return insert({**row, "seq": head + 1, "recorded_by_name": "mallory"})
    if kind == "insert_with_gap_seq":
        return insert({**_with_fresh_keys(model, row), "seq": head + 2, "recorded_by_name": "mallory"})
    raise AssertionError(kind)


def _state(cursor, model, placeholder):
    table = _quote(model._meta.db_table)
    cursor.execute(f"SELECT seq, recorded_by_name FROM {table} ORDER BY seq")
    return cursor.fetchall()


@pytest.mark.django_db
@pytest.mark.parametrize("model", LEDGERS, ids=ids)
@pytest.mark.parametrize("kind", SQLITE_ATTACKS)
def test_sqlite_refuses_every_rewriting_statement(model, kind):
    if connection.vendor != "sqlite":
        pytest.skip("the insert guard is SQLite's (PostgreSQL: see the tests below)")
    insert_raw_row(model)
    pk = insert_raw_row(model)
    with connection.cursor() as cursor:
        row = _row(cursor, model, pk, "%s")
        before = _state(cursor, model, "%s")
    attack = _attack(model, kind, row, "%s")
    if attack is None:
        pytest.skip(f"{model.ledger_name} has no unique key besides seq")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(*attack)
    with connection.cursor() as cursor:
        assert _state(cursor, model, "%s") == before


@pytest.mark.django_db
@pytest.mark.parametrize("model", LEDGERS, ids=ids)
def test_sqlite_still_accepts_the_next_append(model):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's insert guard")
    first = insert_raw_row(model)
    second = insert_raw_row(model)
    assert second == first + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("model", LEDGERS, ids=ids)
def test_a_separate_sqlite3_connection_on_the_file_is_refused_too(model):
    """The guard lives in the database file: the sqlite3 shell (no app, no pragma) is refused."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's insert guard")
    insert_raw_row(model)
    pk = insert_raw_row(model)
    shell = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
    try:
        row = _row(shell.cursor(), model, pk, "?")
        before = _state(shell.cursor(), model, "?")
        tried = 0
        for kind in SQLITE_ATTACKS:
            attack = _attack(model, kind, row, "?")
            if attack is None:
                continue
            tried += 1
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                shell.execute(*attack)
            shell.rollback()
        assert tried >= 6
        assert _state(shell.cursor(), model, "?") == before
    finally:
        shell.close()


@pytest.mark.django_db(transaction=True)
def test_a_separate_sqlite3_connection_cannot_replace_a_checkpoint():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's insert guard")
    insert_raw_row(Checkpoint)
    pk = Checkpoint.objects.order_by("-pk").values_list("pk", flat=True).first()
    shell = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
    try:
        row = _row(shell.cursor(), Checkpoint, pk, "?")
        row["root_hash"] = "f" * 64
        columns = ", ".join(_quote(c) for c in row)
        marks = ", ".join("?" * len(row))
        table = _quote(Checkpoint._meta.db_table)
        for verb in ("REPLACE", "INSERT OR REPLACE"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                shell.execute(f"{verb} INTO {table} ({columns}) VALUES ({marks})", list(row.values()))
            shell.rollback()
        # Same (ledger, tree_size) under a new id: refused as well.
        row["id"] = pk + 1
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            shell.execute(f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({marks})", list(row.values()))
        shell.rollback()
    finally:
        shell.close()
    assert Checkpoint.objects.get(pk=pk).root_hash != "f" * 64


@pytest.mark.django_db
def test_the_guard_keeps_a_5000_entry_batch_append_fast(make_note):
    """Every guard test is an index lookup: a 5000-row batch takes about as long with it as without."""
    from ledgerproject.ledger.triggers import triggers_lifted
    from tests.ledger_testapp.models import Note

    def batch(tag):
        rows = [{"key": f"{tag}-{i}", "topic": "general", "body": {"i": i}} for i in range(5000)]
        start = time.perf_counter()
        Note.objects.append_many(rows)
        return time.perf_counter() - start

    make_note()
    guarded = batch("a")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with triggers_lifted(connection, [Note._meta.db_table]):
        unguarded = batch("b")
    guarded = min(guarded, batch("c"))
    assert guarded < unguarded * 2 + 0.5, (guarded, unguarded)


PG_ATTACKS = {
    "update": "UPDATE {table} SET recorded_by_name = 'mallory'",
    "delete": "DELETE FROM {table}",
    "truncate": "TRUNCATE {table} CASCADE",
    "insert_on_conflict_do_update": (
        "INSERT INTO {table} SELECT * FROM {table} WHERE seq = {seq} "
        "ON CONFLICT (seq) DO UPDATE SET recorded_by_name = 'mallory'"
    ),
    "merge_update": (
        "MERGE INTO {table} t USING (SELECT seq FROM {table}) s ON t.seq = s.seq "
        "WHEN MATCHED THEN UPDATE SET recorded_by_name = 'mallory'"
    ),
    "merge_delete": (
        "MERGE INTO {table} t USING (SELECT seq FROM {table}) s ON t.seq = s.seq WHEN MATCHED THEN DELETE"
    ),
}


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("model", LEDGERS, ids=ids)
@pytest.mark.parametrize("kind", sorted(PG_ATTACKS))
def test_postgres_refuses_every_rewriting_statement(model, kind):
    pk = insert_raw_row(model)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses tables with pending FK checks
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(PG_ATTACKS[kind].format(table=table, seq=pk))
    assert model._base_manager.get(pk=pk).recorded_by_name == "x"
