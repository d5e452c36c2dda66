"""Batches built item by item into their COPY under the lock (PostgreSQL): the answers and rows of the path that builds first."""

import itertools
import threading
import uuid

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enhancelog.models import EnhanceEntry
from enhancelog.tests.conftest import entry_json
from experience.models import TRANSITION, ExperienceEvent
from ledgerproject.ledger import bulk_insert, clock
from ledgerproject.ledger.chain import verify_chain
from ledgerproject.ledger.exceptions import BatchValidationError, ConflictError
from ledgerproject.ledger.models import append as append_path
from ledgerproject.ledger.models import entries as entries_module
from ledgerproject.ledger.tests.test_fast_batch_equivalence import ARRAYS, FINAL, batch_ledgers, stored_world
from runs.models import Output

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# How each ledger whose batches can stream varies the key of a valid item, to pad an array with new items.
NEW_KEY = {
    "enhancelog": lambda item, i: {**item, "issue_id": f"pad-{i}"},
    "experience": lambda item, i: {**item, "event_id": f"pad-{i}"},
    "logchain": lambda item, i: {**item, "seq": 50_000 + i},
    "outputs": lambda item, i: {**item, "task_id": f"pad-{i}"},
    "runs": lambda item, i: {**item, "metadata": {**item["metadata"], "agent_name": f"pad-{i}"}},
    "testnotes": lambda item, i: {**item, "key": f"pad-{i}"},
}
# Enough items ahead of an array's own that whole parts of the COPY were sent before they are reached.
PAD = bulk_insert.COPY_PART + 6


@pytest.fixture
def world(root_api):
    return stored_world(root_api)


def streaming_ledgers():
    """{name: model} of the batch ledgers a batch can stream into (streams_into_copy's conditions that do not
    depend on the rows: a unique index refusing stored keys, no foreign key to look up)."""
    return {
        name: model
        for name, model in batch_ledgers().items()
        if model.natural_key_fields
        and append_path._unique_index_refuses_stored_keys(model)
        and not any(field.is_relation for field in model.content_fields())
    }


def test_every_ledger_whose_batches_can_stream_is_padded_here():
    assert set(streaming_ledgers()) == set(NEW_KEY)


def _valid_item(name, world):
    """An item of the ledger that its API stores (the first of the first array the ledger answers 201)."""
    from experience.tests.conftest import VALID

    if name == "experience":
        return {
            "event_id": "x",
            "occurred_at": "2026-01-21T12:00:00Z",
            "tenant_id": "acme",
            "event": {"type": "OutcomeRecorded", "data": VALID["OutcomeRecorded"]},
        }
    _url, arrays = ARRAYS[name](world)
    return arrays[0][0]


def _answer(api, url, array, model, moment):
    with transaction.atomic(), clock.backdated(moment):
        before = model._base_manager.order_by("-seq").values_list("seq", flat=True).first() or 0
        response = api.post(url, array, format="json")
        rows = list(model._base_manager.filter(seq__gt=before).order_by("seq").values())
        transaction.set_rollback(True)
    return response.status_code, response.json(), rows


@pytest.mark.parametrize("name", sorted(NEW_KEY))
def test_its_answers_and_rows_are_those_of_the_path_that_builds_first(name, root_api, world, monkeypatch):
    model = streaming_ledgers()[name]
    url, arrays = ARRAYS[name](world)
    template = _valid_item(name, world)
    pad = [NEW_KEY[name](template, i) for i in range(PAD)]
    moment = timezone.now()
    streamed = []
    real = entries_module._append_streamed

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        streamed.append(len(result))
        return result

    statuses = set()
    minted = [None]

    def mint_the_same_ids(start):
        # Outputs and runs get ids from the server: both paths get the same ones.
        minted[0] = itertools.count(start)
        monkeypatch.setattr("runs.models.mint_output_id", lambda: f"out-{next(minted[0]):020x}")
        monkeypatch.setattr(
            "runs.serializers.uuid", type("U", (), {"uuid4": staticmethod(lambda: uuid.UUID(int=next(minted[0])))})
        )

    for number, array in enumerate(arrays):
        for padded in (pad + array, array + pad):
            mint_the_same_ids(number * 1000)
            monkeypatch.setattr(entries_module, "_append_streamed", spy)
            streaming = _answer(root_api, url, padded, model, moment)
            mint_the_same_ids(number * 1000)
            monkeypatch.setattr(entries_module, "streams_into_copy", lambda *args: False)
            building_first = _answer(root_api, url, padded, model, moment)
            monkeypatch.undo()
            assert streaming == building_first, padded[PAD:] if padded[:PAD] == pad else padded[:-PAD]
            statuses.add(streaming[0])
    assert {201, 400} <= statuses
    assert streamed, "no array of this ledger took the streamed path"


@pytest.mark.parametrize("name", ["experience", "outputs"])
def test_a_batch_streams_only_when_the_ledgers_rules_have_nothing_to_check(name, root_api, world, monkeypatch):
    """Where state_rules_apply_to() lets a batch stream, check_append_allowed() would neither read nor refuse."""
    model = streaming_ledgers()[name]
    url, arrays = ARRAYS[name](world)
    seen = []
    real = entries_module._append_streamed

    def spy(model, rows, db, build, user_id, user_name):
        result = real(model, rows, db, build, user_id, user_name)
        seen.append(result)
        return result

    monkeypatch.setattr(entries_module, "_append_streamed", spy)
    template = _valid_item(name, world)
    for array in [*arrays, [NEW_KEY[name](template, i) for i in range(20)]]:
        with transaction.atomic():
            root_api.post(url, array, format="json")
            for entries in seen:
                with CaptureQueriesContext(connection) as queries:
                    model.check_append_allowed(entries, using="default")
                assert queries.captured_queries == []
            seen.clear()
            transaction.set_rollback(True)


def test_the_rows_say_when_the_rules_apply():
    event = {"kind": "OutcomeRecorded"}
    assert not ExperienceEvent.state_rules_apply_to([event] * 3)
    assert ExperienceEvent.state_rules_apply_to([event, {"kind": TRANSITION}])
    inline = {"parent_refs": [], "event": FINAL}
    assert not Output.state_rules_apply_to([inline] * 3)
    assert Output.state_rules_apply_to([inline, {**inline, "parent_refs": ["out-1"]}])
    blob = {**FINAL, "content": {"kind": "blob", "digest": "ab" * 32}}
    assert Output.state_rules_apply_to([inline, {**inline, "event": blob}])
    assert Output.state_rules_apply_to([inline, {**inline, "event": "not an event"}])


@pytest.mark.parametrize("where", [0, 1, 63, 64, 199])
def test_a_stored_key_anywhere_in_a_long_batch_is_the_same_409_and_stores_nothing(where, monkeypatch):
    stored = EnhanceEntry.objects.append_many([entry_json(f"s{i}") for i in range(12)])
    batch = [entry_json(f"n{i}") for i in range(200)]
    batch[where] = entry_json("s5")
    streamed = []
    real = entries_module._append_streamed
    monkeypatch.setattr(entries_module, "_append_streamed", lambda *args: streamed.append(1) or real(*args))
    with pytest.raises(ConflictError) as conflict:
        EnhanceEntry.objects.append_many(batch)
    assert streamed == [1]
    assert conflict.value.index == where and conflict.value.identical
    assert conflict.value.existing.seq == stored[5].seq
    assert EnhanceEntry.objects.count() == 12
    appended = EnhanceEntry.objects.append_many([entry_json(f"m{i}") for i in range(100)])
    assert [entry.seq for entry in appended] == list(range(13, 113))
    assert verify_chain(EnhanceEntry).ok


@pytest.mark.parametrize("where", [0, 70, 199])
def test_a_refused_item_after_parts_were_sent_stores_nothing_and_names_every_refusal(where):
    batch = [entry_json(f"n{i}") for i in range(200)]
    batch[where] = entry_json("bad", status="maybe")
    batch[150] = entry_json("also bad", ts_ms=-1)
    with pytest.raises(BatchValidationError) as refused:
        EnhanceEntry.objects.append_many(batch)
    assert [index for index, _ in refused.value.items] == sorted({where, 150})
    assert EnhanceEntry.objects.count() == 0
    batch[100] = batch[3]
    with pytest.raises(BatchValidationError) as refused:
        EnhanceEntry.objects.append_many([entry for i, entry in enumerate(batch) if i not in (where, 150)])
    assert "repeats the key" in str(refused.value.items[0][1])
    assert EnhanceEntry.objects.count() == 0


def test_a_backdated_clock_going_back_is_answered_in_the_order_of_the_path_that_builds_first():
    EnhanceEntry.objects.append_many([entry_json(f"s{i}") for i in range(12)])
    earlier = timezone.now() - timezone.timedelta(days=1)
    batch = [entry_json(f"n{i}") for i in range(100)]
    with clock.backdated(earlier), pytest.raises(ConflictError) as conflict:
        EnhanceEntry.objects.append_many([*batch, entry_json("s3")])
    assert conflict.value.index == 100
    with clock.backdated(earlier), pytest.raises(ValueError, match="before"):
        EnhanceEntry.objects.append_many(batch)
    assert EnhanceEntry.objects.count() == 12


@pytest.mark.django_db(transaction=True)
def test_streamed_batches_and_single_appends_from_many_connections_keep_one_gapless_chain():
    start = threading.Barrier(4)
    failures = []

    def writer(n):
        try:
            start.wait()
            for round_ in range(3):
                EnhanceEntry.objects.append_many([entry_json(f"w{n}-{round_}-{i}") for i in range(150)])
                EnhanceEntry.objects.append(**entry_json(f"w{n}-{round_}-single"))
        except Exception as exc:  # noqa: BLE001 - reported below, with the thread's number
            failures.append((n, exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    seqs = list(EnhanceEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 4 * 3 * 151 + 1))
    # Each batch's entries are consecutive: a batch holds the lock from its tip to its commit.
    for n in range(4):
        for round_ in range(3):
            batch = list(
                EnhanceEntry.objects.filter(issue_id__startswith=f"w{n}-{round_}-")
                .exclude(issue_id__endswith="single")
                .values_list("seq", flat=True)
            )
            assert batch == list(range(batch[0], batch[0] + 150))
    assert verify_chain(EnhanceEntry).ok


@pytest.mark.django_db(transaction=True)
def test_after_a_refused_item_the_rest_is_checked_without_the_lock(monkeypatch):
    # No caller's transaction here (as in a request): the refusal rolls back and lets the ledger's lock go.
    in_transaction = {}
    real = entries_module._built_entry

    def spy(model, plan, fields, relations, skip):
        in_transaction[fields["issue_id"]] = connection.in_atomic_block
        return real(model, plan, fields, relations, skip)

    monkeypatch.setattr(entries_module, "_built_entry", spy)
    batch = [entry_json(f"n{i}") for i in range(200)]
    batch[100] = entry_json("n100", status="maybe")
    batch[150] = entry_json("n150", ts_ms=-1)
    with pytest.raises(BatchValidationError) as refused:
        EnhanceEntry.objects.append_many(batch)
    assert [index for index, _ in refused.value.items] == [100, 150]
    assert all(in_transaction[f"n{i}"] for i in range(101))
    assert not any(in_transaction[f"n{i}"] for i in range(101, 200))
    assert EnhanceEntry.objects.count() == 0


def test_a_refused_item_after_a_stored_key_was_sent_is_the_400_and_nothing_is_logged(caplog):
    EnhanceEntry.objects.append_many([entry_json(f"s{i}") for i in range(12)])
    batch = [entry_json(f"n{i}") for i in range(200)]
    batch[0] = entry_json("s5")  # in the first part sent
    batch[150] = entry_json("bad", status="maybe")
    with caplog.at_level("WARNING"), pytest.raises(BatchValidationError) as refused:
        EnhanceEntry.objects.append_many(batch)
    assert [index for index, _ in refused.value.items] == [150]
    assert [record.getMessage() for record in caplog.records if record.name.startswith("psycopg")] == []
    assert EnhanceEntry.objects.count() == 12


def test_parts_that_go_row_by_row_keep_the_rows_in_order(monkeypatch):
    real = bulk_insert.copy_text
    parts = []

    def second_part_by_row(rows):
        parts.append(len(rows))
        return None if len(parts) == 2 else real(rows)

    monkeypatch.setattr(bulk_insert, "copy_text", second_part_by_row)
    EnhanceEntry.objects.append_many([entry_json(f"s{i}") for i in range(3)])
    appended = EnhanceEntry.objects.append_many([entry_json(f"n{i}") for i in range(200)])
    assert len(parts) == 2  # the third and fourth parts went row by row without asking again
    assert [entry.seq for entry in appended] == list(range(4, 204))
    assert verify_chain(EnhanceEntry).ok


def test_a_refused_item_is_answered_before_an_error_of_the_rows_already_sent(monkeypatch):
    from django.db import DataError

    columns, _ = bulk_insert.copy_rows(EnhanceEntry, (), connection)
    at = columns.index("recorded_at")
    real = bulk_insert.copy_text

    def first_row_unreadable(rows):
        if rows:
            rows[0][at] = "not a time"  # a row the database refuses, not for its key
        return real(rows)

    monkeypatch.setattr(bulk_insert, "copy_text", first_row_unreadable)
    batch = [entry_json(f"n{i}") for i in range(200)]
    batch[150] = entry_json("bad", status="maybe")
    with pytest.raises(BatchValidationError) as refused:
        EnhanceEntry.objects.append_many(batch)
    assert [index for index, _ in refused.value.items] == [150]
    with pytest.raises(DataError):  # with no refused item, the database's own error, as it came
        EnhanceEntry.objects.append_many(batch[:150])
    assert EnhanceEntry.objects.count() == 0
