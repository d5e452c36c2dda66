"""Full verification's COPY walk on PostgreSQL: rows read from libpq in batches (copy_batches), each line
checked where it was split (_ChainWalk.copy_lines). A server error mid-stream is an error, never a short
read; a change in any column gets the verdict the row-by-row walk gives; an early verdict leaves the
connection usable."""

import threading

import pytest
from django.db import DatabaseError, DataError, OperationalError, connection, transaction

from enhancelog.models import EnhanceEntry
from ledgerproject.ledger import chain, hashing
from ledgerproject.ledger.chain import copy_batches, copy_rows, copy_statement, verify_chain
from ledgerproject.ledger.tests.conftest import triggers_lifted
from tests.ledger_testapp.models import Note

pytestmark = pytest.mark.django_db

TABLE = EnhanceEntry._meta.db_table
SERIES = "SELECT g, CASE WHEN g < {bad} THEN 'row ' || g ELSE {failure} END FROM generate_series(1, {rows}) g"


def to_this_backend_soon(function):
    """A timer (not started) that, 0.5 s after it starts, calls PostgreSQL's `function` (pg_cancel_backend,
    pg_terminate_backend) on this connection's backend from a second connection."""
    import psycopg

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()

    def call():
        with psycopg.connect(**params) as other:
            other.execute(f"SELECT {function}(%s)", [pid])

    return threading.Timer(0.5, call)


def enhance(n):
    rejected = n % 4 == 0
    return {
        "issue_id": f"ISS-walk-{n}",
        "blueprint_id": f"bp-{n % 3}",
        "prev_hash": "a" * 64,
        "new_hash": "" if rejected else "b" * 64,
        "intent": f"intent {n}",
        "rationale": "é漢 \"quoted\" and 'single'",
        "status": EnhanceEntry.REJECTED if rejected else EnhanceEntry.APPLIED,
        "verdicts": [{"axis": "des", "status": "deny" if rejected else "pass", "detail": f"check {n}"}],
        "reasons": ["des: drift"] if rejected else [],
        "ts_ms": 1_700_000_000_000 + n,
        "tenant_id": "acme" if n % 5 == 0 else None,
    }


@pytest.fixture
def ledger(db):
    """30 enhance entries in three appends (so three recorded_at values), some with a tenant."""
    for first in (0, 10, 20):
        EnhanceEntry.objects.append_many([enhance(n) for n in range(first, first + 10)], recorded_by="walker")
    return EnhanceEntry


@pytest.fixture
def small_batches(monkeypatch):
    """copy_batches() hands over at most 4 rows at a time, so a ledger of 30 spans several lists."""
    monkeypatch.setattr(chain, "COPY_BATCH", 4)


def behind_the_triggers_back(sql, params=()):
    with triggers_lifted(EnhanceEntry), connection.cursor() as cursor:
        cursor.execute(sql, params)


def by_cursor(monkeypatch, model=EnhanceEntry):
    """The verdict of the row-by-row walk over the server-side cursor (no COPY)."""
    with monkeypatch.context() as patch:
        patch.setattr(chain, "_copy_parsers", lambda columns, converters: None)
        return verify_chain(model).as_dict()


def rows_seen(monkeypatch):
    """The rows _ChainWalk.rows() was handed (the COPY walk hands it only the lines it does not pass itself)."""
    seen = []
    original = chain._ChainWalk.rows

    def rows(self, batch):
        batch = list(batch)
        seen.extend(batch)
        return original(self, batch)

    monkeypatch.setattr(chain._ChainWalk, "rows", rows)
    return seen


# --- the reader -------------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_it_reads_a_copy_in_lists_of_at_most_the_limit_with_every_row_once_in_order():
    with copy_statement(connection, "COPY (SELECT g FROM generate_series(1, 2500) g) TO STDOUT") as copy:
        batches = [[bytes(row) for row in batch] for batch in copy_batches(copy, limit=1000)]
    assert all(0 < len(batch) <= 1000 for batch in batches)
    assert [row for batch in batches for row in batch] == [f"{g}\n".encode() for g in range(1, 2501)]
    assert connection.cursor().execute("SELECT 1") is not None  # the COPY is over: the connection is free


@pytest.mark.postgres
def test_it_raises_a_server_error_met_mid_copy_after_the_rows_before_it():
    read = []
    with pytest.raises(DataError, match="division by zero"), transaction.atomic():
        sql = SERIES.format(bad=2500, failure="(1 / (g - g))::text", rows=3000)
        read.extend(copy_rows(connection, sql, (), [(0, int)]))
    assert read and len(read) < 2500 and read[-1][0] == len(read)  # the rows before it, then the error
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.postgres
def test_it_raises_a_statement_timeout_met_mid_copy():
    read = []
    with pytest.raises(OperationalError, match="statement timeout"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 300")
        sql = SERIES.format(bad=2000, failure="pg_sleep(5)::text", rows=3000)
        read.extend(copy_rows(connection, sql, (), [(0, int)]))
    assert len(read) < 2000


@pytest.mark.postgres
def test_it_raises_when_the_query_is_cancelled_mid_copy():
    timer = to_this_backend_soon("pg_cancel_backend")
    read = []
    with pytest.raises(OperationalError, match="cancel"), transaction.atomic():
        timer.start()
        sql = SERIES.format(bad=2000, failure="pg_sleep(5)::text", rows=3000)
        read.extend(copy_rows(connection, sql, (), [(0, int)]))
    timer.join()
    assert len(read) < 2000


@pytest.mark.postgres
def test_verification_raises_a_server_error_met_mid_stream_rather_than_giving_a_short_verdict(
    ledger, small_batches, monkeypatch
):
    original = chain.pg_timestamp_text

    def failing_at_seq_17(model):
        return f'CASE WHEN "{TABLE}"."seq" = 17 THEN (1 / ("{TABLE}"."seq" - 17))::text ELSE {original(model)} END'

    monkeypatch.setattr(chain, "pg_timestamp_text", failing_at_seq_17)
    with pytest.raises(DataError), transaction.atomic():
        verify_chain(EnhanceEntry)


# --- the walk over COPY lines -----------------------------------------------------------------------------


@pytest.mark.postgres
def test_it_passes_an_intact_ledger_without_handing_any_row_to_the_row_by_row_walk(ledger, small_batches, monkeypatch):
    seen = rows_seen(monkeypatch)
    progress = []
    result = verify_chain(EnhanceEntry, progress=progress.append)
    assert (result.ok, result.checked, result.first_bad_seq) == (True, 30, None), result
    assert seen == []  # NULL tenants, quotes and non-ASCII text all pass in the COPY walk itself
    assert sum(progress) == 30 and max(progress) <= 4


@pytest.mark.postgres
def test_json_objects_whose_keys_jsonb_orders_otherwise_pass_in_the_copy_walk(make_note, small_batches, monkeypatch):
    # jsonb hands objects back shortest key first ({"b": .., "aa": ..}); the canonical text sorts them.
    for n in range(6):
        make_note(f"keys-{n}", count=n, body={"zz": n, "nested": {"b": [1, {"dd": 1, "c": 2}], "aa": "x"}})
    seen = rows_seen(monkeypatch)
    assert verify_chain(Note).checked == 6 and seen == []


def test_progress_adds_up_to_the_entries_checked(ledger):
    progress = []
    assert verify_chain(EnhanceEntry, progress=progress.append).checked == sum(progress) == 30


CHANGES = [
    ("issue_id", "%s", "ISS-forged"),
    ("tenant_id", "%s", "acme"),  # filled where it was NULL (left out of the hash)
    ("blueprint_id", "%s", "bp-forged"),
    ("prev_hash", "%s", "c" * 64),
    ("new_hash", "%s", ""),
    ("intent", "%s", "intent\twith a tab"),
    ("rationale", "%s", "other reasons"),
    ("verdicts", "%s::jsonb", '[{"axis": "des", "status": "pass", "detail": 13}]'),
    ("verdicts", "%s::jsonb", '[{"axis": "des", "status": "pass", "detail": "check 13", "extra": true}]'),
    ("status", "%s", "rejected"),
    ("reasons", "%s::jsonb", '["des: drift"]'),
    ("ts_ms", "%s", 1_700_000_000_014),
    ("axes", "%s", ",forged,"),
    ("denied_axes", "%s", ",des,"),
    ("reasons_text", "%s", "forged"),
    ("recorded_by_name", "%s", "someone else"),
    ("prev_entry_hash", "%s", "0" * 64),
    ("entry_hash", "%s", "f" * 64),
    ("canonical", "REPLACE(canonical, '\"intent 13\"', '\"intent 31\"')", None),
    ("recorded_at", "recorded_at + interval '1 microsecond'", None),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("column", "expression", "value"), CHANGES)
def test_a_change_in_any_column_gets_the_row_by_row_walk_s_verdict(
    ledger, small_batches, monkeypatch, column, expression, value
):
    params = [value] if "%s" in expression else []
    behind_the_triggers_back(f"UPDATE {TABLE} SET {column} = {expression} WHERE seq = 14", params)
    by_copy = verify_chain(EnhanceEntry).as_dict()
    assert (by_copy["ok"], by_copy["first_bad_seq"], by_copy["checked"]) == (False, 14, 13), by_copy
    assert by_copy == by_cursor(monkeypatch)


@pytest.mark.postgres
@pytest.mark.parametrize("value", [None, ""])
def test_a_tenant_emptied_or_set_to_null_gets_the_row_by_row_walk_s_verdict(ledger, small_batches, monkeypatch, value):
    behind_the_triggers_back(f"UPDATE {TABLE} SET tenant_id = %s WHERE seq = 11", [value])  # entry 10: "acme"
    by_copy = verify_chain(EnhanceEntry).as_dict()
    assert (by_copy["ok"], by_copy["first_bad_seq"]) == (False, 11), by_copy
    assert by_copy == by_cursor(monkeypatch)


@pytest.mark.postgres
def test_a_missing_entry_is_named_as_the_row_by_row_walk_names_it(ledger, small_batches, monkeypatch):
    behind_the_triggers_back(f"DELETE FROM {TABLE} WHERE seq IN (9, 10)")
    by_copy = verify_chain(EnhanceEntry).as_dict()
    assert by_copy["first_bad_seq"] == 9 and "seq 9 is missing (the next entry has seq 11)" in by_copy["reason"]
    assert by_copy == by_cursor(monkeypatch)


@pytest.mark.postgres
def test_a_line_with_escapes_is_unescaped_and_checked_in_the_copy_walk(ledger, small_batches, monkeypatch):
    entry = enhance(99)
    entry["intent"] = "a tab\there, a newline\nthere, a back\\slash and \\N"
    EnhanceEntry.objects.append_many([entry, enhance(100)], recorded_by="walker")
    seen = rows_seen(monkeypatch)
    assert verify_chain(EnhanceEntry).checked == 32 and seen == []
    behind_the_triggers_back(f"UPDATE {TABLE} SET intent = %s WHERE seq = 31", [entry["intent"] + "\\"])
    by_copy = verify_chain(EnhanceEntry).as_dict()
    assert (by_copy["ok"], by_copy["first_bad_seq"]) == (False, 31) and "intent" in by_copy["reason"], by_copy
    assert by_copy == by_cursor(monkeypatch)


@pytest.mark.postgres
def test_a_value_only_spelled_otherwise_passes_through_the_row_by_row_walk(make_note, small_batches, monkeypatch):
    # jsonb keeps 2.0 as 2.0 where the canonical text has 2: the rebuilt bytes differ, so that row alone is
    # handed to the row-by-row walk, which compares the values and passes it.
    for n in range(6):
        make_note(f"spelled-{n}", count=n, body={"n": 2.0 if n == 3 else n})
    seen = rows_seen(monkeypatch)
    result = verify_chain(Note)
    assert (result.ok, result.checked) == (True, 6), result
    assert [row[0] for row in seen] == [4]


@pytest.mark.postgres
def test_an_early_verdict_leaves_the_connection_usable(ledger, small_batches):
    behind_the_triggers_back(f"UPDATE {TABLE} SET intent = 'forged' WHERE seq = 3")
    first = verify_chain(EnhanceEntry)
    assert (first.ok, first.first_bad_seq) == (False, 3)
    with connection.cursor() as cursor:  # the rest of the COPY was cancelled and drained
        cursor.execute("SELECT count(*) FROM " + TABLE)
        assert cursor.fetchone() == (30,)
    assert verify_chain(EnhanceEntry).as_dict() == first.as_dict()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lost_connection_mid_copy_is_an_error():
    timer = to_this_backend_soon("pg_terminate_backend")
    read = []
    try:
        with pytest.raises(DatabaseError):
            timer.start()
            sql = SERIES.format(bad=2000, failure="pg_sleep(5)::text", rows=3000)
            read.extend(copy_rows(connection, sql, (), [(0, int)]))
        assert len(read) < 2000
    finally:
        timer.join()
        connection.close()  # the test's transaction died with the backend: the next test reconnects


@pytest.mark.postgres
@pytest.mark.parametrize("columns", [["topic"], ["topic", "body"]])
def test_a_ledger_of_one_or_two_content_columns_is_read_by_the_copy_walk_as_by_the_cursor(
    make_note, monkeypatch, columns
):
    # Only these columns count as content: every stored text then holds more, so both walks must name seq 1.
    for n in range(3):
        make_note(f"few-{n}", count=n)
    fields = [f for f in Note.content_fields() if f.attname in columns]
    monkeypatch.setattr(Note, "content_fields", classmethod(lambda cls: fields))
    by_copy = verify_chain(Note).as_dict()
    assert (by_copy["ok"], by_copy["first_bad_seq"]) == (False, 1) and "content differs" in by_copy["reason"]
    assert by_copy == by_cursor(monkeypatch, Note)


@pytest.mark.postgres
def test_a_reader_of_copy_rows_that_stops_early_leaves_the_connection_usable():
    rows = copy_rows(connection, "SELECT g FROM generate_series(1, 5000) g", (), [(0, int)])
    assert [next(rows)[0] for _ in range(3)] == [1, 2, 3]
    rows.close()  # what a client that drops a streamed export does
    with connection.cursor() as cursor:
        cursor.execute("SELECT 41 + 1")
        assert cursor.fetchone() == (42,)


@pytest.mark.postgres
def test_a_reader_stopping_early_inside_a_transaction_leaves_the_transaction_usable():
    # Enough rows that the server is still sending when the reader stops, so the rest is cancelled; the
    # cancel aborts the statement's transaction, which the savepoint around the COPY takes back.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE kept_across_copy (n int)")
            cursor.execute("INSERT INTO kept_across_copy VALUES (7)")
        rows = copy_rows(connection, SERIES.format(bad=10**7, failure="'x'", rows=2 * 10**6), (), [(0, int)])
        first = [next(rows) for _ in range(5)]
        rows.close()
        assert [row[0] for row in first] == [1, 2, 3, 4, 5]
        with connection.cursor() as cursor:  # the caller's transaction and what it wrote are still there
            cursor.execute("SELECT n FROM kept_across_copy")
            assert cursor.fetchall() == [(7,)]


def reference_content(keys, kinds, omit, converted, fields):
    """The content dict as rows() builds it from a row: parse, make JSON values, drop empty omitted keys."""
    parse = {"int": int, "bool": {"t": True, "f": False}.__getitem__, "json": __import__("orjson").loads}
    content = {}
    for key, kind, value in zip(keys, kinds, fields[6:], strict=True):
        if value is not None and kind in parse:
            value = parse[kind](value)
        content[key] = hashing.jsonable(value) if key in converted else value
    return {key: value for key, value in content.items() if not (key in omit and value is None)}


BUILDER_KEYS = ["title", "count", "done", "data", "tenant_id", "slug", "when"]
BUILDER_KINDS = ["text", "int", "bool", "json", "text", "text", "int"]


@pytest.mark.parametrize(
    "content_fields",
    [
        ["a title", "42", "t", '{"b": 1, "a": [true, null]}', "acme", "a-slug", "-7"],
        ["", "0", "f", "null", "", "", "0"],  # an empty tenant is kept, a JSON null is a value
        [None, None, None, None, None, None, None],  # NULLs: None, the omitted tenant dropped
        ['é漢 "q" \\ tab\t', "18446744073709551615", "t", '[1, 2.5, "x"]', None, "s", "1"],
    ],
)
def test_the_content_builder_gives_the_dict_rows_builds_for_every_kind_and_null(content_fields):
    fields = ["1", "at", "by", "p", "h", "c", *content_fields]
    build = chain._content_builder(BUILDER_KEYS, BUILDER_KINDS, ("tenant_id", "absent"), ["slug"])
    built = build(fields)
    assert built == reference_content(BUILDER_KEYS, BUILDER_KINDS, ("tenant_id",), ["slug"], fields)
    assert list(built) == sorted(built)  # the keys already in the order orjson sorts them
    assert ("tenant_id" in built) == (content_fields[4] is not None)


def test_the_content_builder_raises_the_parsers_errors_so_the_line_goes_to_the_row_by_row_walk():
    build = chain._content_builder(["n", "j"], ["int", "json"], (), [])
    with pytest.raises(ValueError):
        build(["1", "at", "by", "p", "h", "c", "x", "[]"])
    with pytest.raises(ValueError):  # orjson.JSONDecodeError is a ValueError
        build(["1", "at", "by", "p", "h", "c", "1", "{not json"])


def test_the_content_builder_takes_column_names_as_data_never_as_code():
    keys = ["a'b", 'c"d', "e}\n", "__import__('os')"]
    build = chain._content_builder(keys, ["text"] * 4, ("a'b",), [])
    assert build(["1", "at", "by", "p", "h", "c", "w", "x", "y", "z"]) == dict(zip(keys, "wxyz", strict=True))
    assert build(["1", "at", "by", "p", "h", "c", None, "x", "y", "z"]) == dict(zip(keys[1:], "xyz", strict=True))
