"""A batch goes in with one statement (COPY on PostgreSQL) and stores exactly what Django's INSERT stored."""

import datetime
import json
import types
import warnings
import zoneinfo

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.test.utils import CaptureQueriesContext

from enhancelog.models import EnhanceEntry
from ledgerproject.ledger import bulk_insert
from ledgerproject.ledger.chain import verify_ledger
from runs.models import Run, RunEvent

pytestmark = pytest.mark.django_db


def rows(count, start=0):
    return [
        {
            "issue_id": f"copy-{start + i}",
            "blueprint_id": f"bp-{i % 3}",
            "prev_hash": "ab" * 32,
            "new_hash": "" if i % 2 else "cd" * 32,
            "intent": 'tab\there, quote " back\\slash, newline\n, ☃, \U0001f600',
            "rationale": "" if i % 2 else "r",
            "verdicts": [{"axis": "des", "status": "deny", "detail": "x\ty"}] if i % 2 else [],
            "status": "rejected" if i % 2 else "applied",
            "reasons": ["a\\b", "c\nd"] if i % 2 else [],
            "ts_ms": 1_760_000_000_000 + i,
            "tenant_id": None if i % 3 else f"tenant-{i}",
        }
        for i in range(count)
    ]


FIELDS = [f.attname for f in EnhanceEntry._meta.concrete_fields]


def stored(model):
    return list(model._base_manager.order_by("seq").values_list(*[f.attname for f in model._meta.concrete_fields]))


def test_it_stores_a_batch_that_verifies_and_reads_back_as_sent():
    sent = rows(50)
    appended = EnhanceEntry.objects.append_many(sent, recorded_by="bench")
    assert [e.seq for e in appended] == list(range(1, 51))
    back = {e.issue_id: e for e in EnhanceEntry._base_manager.all()}
    for row in sent:
        entry = back[row["issue_id"]]
        assert {name: getattr(entry, name) for name in row} == row
    result = verify_ledger(EnhanceEntry)
    assert result.ok and result.checked == 50


def test_every_column_holds_what_the_entries_carried():
    appended = EnhanceEntry.objects.append_many(rows(20), recorded_by="bench")
    expected = [tuple(getattr(entry, name) for name in FIELDS) for entry in appended]
    assert stored(EnhanceEntry) == expected


def test_a_batch_with_a_foreign_key_and_timestamps_verifies(writer_api):
    run = writer_api.post(
        "/api/v1/runs/", {"spec_digest": "a" * 64, "metadata": {"agent_name": "b", "tags": {}}}, format="json"
    ).json()["run_id"]
    events = [
        {"kind": "tool_called", "payload": {"i": i, "s": "\\\t"}, "timestamp": "2026-01-21T12:00:00.123456Z"}
        for i in range(30)
    ]
    response = writer_api.post(f"/api/v1/runs/{run}/events/batch/", events, format="json")
    assert response.status_code == 201, response.content
    stored_events = list(RunEvent._base_manager.order_by("seq"))
    assert [e.payload for e in stored_events] == [e["payload"] for e in events]
    assert {str(e.run_id) for e in stored_events} == {run}
    assert stored_events[0].timestamp.microsecond == 123456
    assert verify_ledger(RunEvent).ok and verify_ledger(Run).ok


@pytest.mark.postgres
def test_on_postgres_a_batch_is_one_copy_not_inserts():
    with CaptureQueriesContext(connection) as captured:
        EnhanceEntry.objects.append_many(rows(10), recorded_by="bench")
    assert EnhanceEntry._base_manager.count() == 10
    assert not any(inserts_entries(q["sql"]) for q in captured.captured_queries)


@pytest.mark.postgres
def test_on_postgres_a_single_entry_is_one_insert_not_a_copy():
    with CaptureQueriesContext(connection) as captured:
        EnhanceEntry.objects.append_many(rows(1), recorded_by="bench")
    assert sum(inserts_entries(q["sql"]) for q in captured.captured_queries) == 1


def inserts_entries(sql):
    """An INSERT into the ledger's own table (the rollups' UPSERT in the same transaction is another table's)."""
    return sql.lstrip().upper().startswith(f'INSERT INTO "{EnhanceEntry._meta.db_table.upper()}"')


@pytest.mark.postgres
def test_copy_writes_the_values_djangos_insert_writes():
    entries = EnhanceEntry.objects.append_many(rows(10), recorded_by="bench")
    columns, copied = bulk_insert.copy_rows(EnhanceEntry, entries, connection)
    fields = [f for f in EnhanceEntry._meta.concrete_fields]
    assert columns == [f.column for f in fields]
    for entry, row in zip(entries, copied, strict=True):
        for field, value in zip(fields, row, strict=True):
            django_value = field.get_db_prep_save(field.pre_save(entry, True), connection)
            if hasattr(django_value, "obj"):  # psycopg's Jsonb adapter: compare the JSON it holds
                assert json.loads(value) == django_value.obj
            else:
                assert value == django_value, field.name


@pytest.mark.postgres
def test_a_refused_copy_is_a_django_integrity_error_and_stores_nothing():
    entries = EnhanceEntry.objects.append_many(rows(bulk_insert.COPY_MIN_ROWS), recorded_by="bench")
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert.insert_entries(EnhanceEntry, entries, "default")  # the same seqs again
    assert EnhanceEntry._base_manager.count() == bulk_insert.COPY_MIN_ROWS


def test_its_copy_text_spells_each_kind_as_copy_reads_it():
    import datetime
    import uuid

    moment = datetime.datetime(2026, 1, 21, 12, 0, 0, 123456, tzinfo=datetime.UTC)
    text = bulk_insert.copy_text(
        [
            ["a\\b\tc\nd\re", None, 7, -(2**63), True, False, moment, uuid.UUID(int=1), "", "☃ \U0001f600"],
            ['{"k":"v\\\\"}', None, 0, 1, False, True, moment, uuid.UUID(int=2), "\\N", " "],
        ]
    )
    assert text == (
        "a\\\\b\\tc\\nd\\re\t\\N\t7\t-9223372036854775808\tt\tf\t2026-01-21T12:00:00.123456+00:00\t"
        "00000000-0000-0000-0000-000000000001\t\t☃ \U0001f600\n"
        '{"k":"v\\\\\\\\"}\t\\N\t0\t1\tf\tt\t2026-01-21T12:00:00.123456+00:00\t'
        "00000000-0000-0000-0000-000000000002\t\\\\N\t \n"
    )


def test_its_copy_text_escapes_each_character_copy_reads_specially_even_alone():
    # Each on its own, in a text column and value by value (a column of mixed kinds): one rule says which
    # characters are escaped, so a character it forgot would go out raw in both.
    for character, spelled in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        assert bulk_insert.copy_text([[f"a{character}b"]]) == f"a{spelled}b\n", repr(character)
        assert bulk_insert.copy_text([[f"a{character}b"], [1]]) == f"a{spelled}b\n1\n", repr(character)


def test_its_copy_text_leaves_other_kinds_to_the_driver():
    import datetime
    import decimal

    for value in (1.5, decimal.Decimal("1"), datetime.date(2026, 1, 1), datetime.datetime(2026, 1, 1), b"x"):
        assert bulk_insert.copy_text([["x", value]]) is None, value


def _stored_text(model, appended_from):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT row_to_json(t)::text FROM {connection.ops.quote_name(model._meta.db_table)} t "
            "WHERE seq > %s ORDER BY seq",
            [appended_from],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgres
def test_copy_text_stores_exactly_the_rows_the_drivers_write_row_stores(writer_api, monkeypatch):
    from django.utils import timezone

    from ledgerproject.ledger import clock
    from logchain.models import LogRecord

    run = writer_api.post(
        "/api/v1/runs/", {"spec_digest": "a" * 64, "metadata": {"agent_name": "b", "tags": {}}}, format="json"
    ).json()["run_id"]
    run = Run._base_manager.get(run_id=run)
    batches = [
        (EnhanceEntry, rows(30)),
        (
            RunEvent,
            [
                {"run": run, "kind": "k\t\\", "payload": {"s": "\\\t\n\r", "i": i}, "timestamp": timezone.now()}
                for i in range(20)
            ],
        ),
        (
            LogRecord,
            [
                {
                    "node_seq": i,
                    "ts_ms": i,
                    "level": "Info",
                    "node_id": 1,
                    "message": "a\\b\tc",
                    "chain_pending": i % 2 == 0,
                }
                for i in range(1, 21)
            ],
        ),
    ]
    moment = timezone.now()
    used = []
    real = bulk_insert.copy_text
    monkeypatch.setattr(bulk_insert, "copy_text", lambda rows: used.append(1) or real(rows))
    for model, batch in batches:
        outcomes = []
        for text in (True, False):
            if not text:
                monkeypatch.setattr(bulk_insert, "copy_text", lambda rows: None)  # the driver's write_row
            with transaction.atomic(), clock.backdated(moment):
                before = model._base_manager.order_by("-seq").values_list("seq", flat=True).first() or 0
                model.objects.append_many(batch, recorded_by="bench")
                outcomes.append(_stored_text(model, before))
                transaction.set_rollback(True)
        monkeypatch.setattr(bulk_insert, "copy_text", lambda rows: used.append(1) or real(rows))
        assert outcomes[0] and outcomes[0] == outcomes[1], model
    assert used  # the text path ran


def test_its_copy_text_keeps_apart_the_two_instants_of_a_wall_time_the_clock_turns_back_over():
    import datetime
    import zoneinfo

    first = datetime.datetime(2026, 10, 25, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    second = first.replace(fold=1)  # equal to `first` by Python's rules (same zone), an hour later
    assert first == second
    text = bulk_insert.copy_text([[first], [second], [first]])
    assert text == "2026-10-25T02:30:00+02:00\n2026-10-25T02:30:00+01:00\n2026-10-25T02:30:00+02:00\n"


def test_its_copy_text_spells_every_column_as_it_spells_each_value():
    """copy_text spells a column at once when its values share a kind; what it writes must be the lines of
    copy_cell over each value, for columns of one kind, with NULLs, of mixed kinds, with characters to
    escape, with one time object or several, and None as soon as any value is one it leaves to the driver."""
    import random
    import uuid

    paris = zoneinfo.ZoneInfo("Europe/Paris")
    moment = datetime.datetime(2026, 10, 25, 2, 30, tzinfo=paris)
    pool = [
        "",
        "plain",
        "a\tb",
        "tab\there",
        "back\\slash",
        "line\nbreak",
        "\r",
        "\\N",
        "☃ \U0001f600",
        0,
        -7,
        2**70,
        True,
        False,
        None,
        moment,
        moment.replace(fold=1),
        moment.astimezone(datetime.UTC),
        datetime.datetime(2026, 1, 1),  # naive: left to the driver
        uuid.UUID(int=5),
        1.5,  # left to the driver
    ]
    generator = random.Random(12)
    spelled_lines = 0
    for _ in range(4000):
        kinds = [generator.sample(pool, generator.choice((1, 1, 2, 3))) for _ in range(generator.randint(0, 4))]
        rows = [[generator.choice(kind) for kind in kinds] for _ in range(generator.randint(0, 6))]
        moments = {}
        try:
            expected = "".join("\t".join(bulk_insert.copy_cell(value, moments) for value in row) + "\n" for row in rows)
        except bulk_insert._Unspelled:
            expected = None
        assert bulk_insert.copy_text(rows) == expected, rows
        spelled_lines += bool(expected) and len(rows)
    assert spelled_lines > 1000  # most draws were spelled, not left to the driver


class _Tz(datetime.tzinfo):
    """A zone that gives no offset: Django counts a datetime in it as naive."""

    def utcoffset(self, moment):
        return None

    def dst(self, moment):
        return None


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=datetime.UTC),
        datetime.datetime(2026, 10, 25, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"), fold=1),
        datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))),
        datetime.datetime(2026, 3, 1, 12, 0),  # naive: Django warns and reads it in the default zone
        datetime.datetime(2026, 3, 1, 12, 0, tzinfo=_Tz()),  # naive by its offset
    ],
)
def test_a_time_column_copies_what_djangos_conversion_gives_each_time(moment):
    """Every row's own time (an event's occurred_at, a run event's timestamp) is converted as Django converts it;
    on PostgreSQL an aware one is taken as it is, which is what that conversion returns for it."""
    from experience.models import ExperienceEvent

    field = ExperienceEvent._meta.get_field("occurred_at_utc")
    column = bulk_insert._column_value(field, connection)
    entries = [types.SimpleNamespace(occurred_at_utc=moment), types.SimpleNamespace(occurred_at_utc=moment)]
    naive = moment.utcoffset() is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expected = field.get_db_prep_save(moment, connection)
        copied = [column(entry) for entry in entries]
    assert bool(caught) is naive  # Django's warning for a naive time, which the copy path lets it give
    assert copied == [expected, expected]
    assert all(type(value) is type(expected) for value in copied)
    if connection.vendor == "postgresql" and not naive:
        assert copied[0] is moment


class _Converts:
    def get_prep_value(self, value):
        return value


class _MixedTime(models.DateTimeField, _Converts):
    """A conversion of its own below DateTimeField in the method order (reached through super())."""


class _OwnTime(models.DateTimeField):
    def to_python(self, value):
        return value


@pytest.mark.parametrize("field_class", [models.DateTimeField, _MixedTime, _OwnTime])
def test_a_time_is_copied_as_it_is_only_for_djangos_own_conversion_on_a_backend_that_keeps_it(field_class):
    kept = bulk_insert._keeps_aware_datetimes(field_class(), connection)
    assert kept is (field_class is models.DateTimeField and connection.vendor == "postgresql")
