"""The append path: gapless seqs, the hash chain, atomic batches, conflicts, validation."""

import hashlib
import json

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ledgerproject.ledger import hashing
from ledgerproject.ledger.exceptions import BatchValidationError, ConflictError, ImmutableEntryError
from ledgerproject.ledger.signals import entries_appended
from tests.ledger_testapp.models import Note

pytestmark = pytest.mark.django_db


def test_it_numbers_entries_from_one_without_gaps(make_note):
    notes = [make_note() for _ in range(5)]
    assert [n.seq for n in notes] == [1, 2, 3, 4, 5]
    assert list(Note.objects.values_list("seq", flat=True)) == [1, 2, 3, 4, 5]


def test_it_chains_each_entry_to_the_one_before(make_note):
    first, second = make_note(), make_note()
    assert first.prev_entry_hash == "0" * 64
    assert second.prev_entry_hash == first.entry_hash
    expected = hashlib.sha256(bytes.fromhex(first.entry_hash) + second.canonical.encode()).hexdigest()
    assert second.entry_hash == expected


def test_the_canonical_form_is_rfc8785_of_ledger_seq_time_principal_and_content(alice):
    note = Note.objects.append(recorded_by=alice, key="k", body={"b": 2, "a": [1.0, True, None]}, count=3)
    assert note.canonical == (
        '{"content":{"body":{"a":[1,true,null],"b":2},"count":3,"key":"k","tenant_id":"","topic":""},'
        f'"ledger":"testnotes","recorded_at":"{hashing.format_timestamp(note.recorded_at)}",'
        '"recorded_by":"alice","seq":1}'
    )
    stored = Note.objects.get(seq=1)
    assert stored.canonical == note.canonical
    assert stored.recorded_by_id == alice.pk and stored.recorded_by_name == "alice"


def test_the_stored_entry_reads_back_equal(make_note):
    note = make_note(body={"nested": {"list": [1, "two", {"three": 3}]}}, count=7)
    stored = Note.objects.get(key=note.key)
    assert (stored.body, stored.count, stored.entry_hash, stored.recorded_at) == (
        note.body,
        note.count,
        note.entry_hash,
        note.recorded_at,
    )


def test_a_batch_is_stored_in_order_with_one_recorded_at():
    notes = Note.objects.append_many([{"key": f"k{i}", "count": i} for i in range(4)], recorded_by="importer")
    assert [n.seq for n in notes] == [1, 2, 3, 4]
    assert len({n.recorded_at for n in notes}) == 1
    assert [n.key for n in Note.objects.all()] == ["k0", "k1", "k2", "k3"]
    assert {n.recorded_by_name for n in Note.objects.all()} == {"importer"}


def test_a_batch_with_one_bad_item_stores_nothing_and_names_the_item(make_note):
    make_note("existing")
    with pytest.raises(BatchValidationError) as caught:
        Note.objects.append_many([{"key": "ok"}, {"key": "bad", "count": -1}])
    assert caught.value.items[0][0] == 1
    assert "count must not be negative" in str(caught.value.items[0][1])
    assert list(Note.objects.values_list("key", flat=True)) == ["existing"]


def test_a_batch_repeating_a_key_within_itself_is_refused():
    with pytest.raises(BatchValidationError, match="repeats the key"):
        Note.objects.append_many([{"key": "same"}, {"key": "same"}])
    assert not Note.objects.exists()


def test_a_repeated_natural_key_is_a_conflict_that_leaves_the_stored_entry_alone(make_note):
    stored = make_note("k1", body={"v": 1})
    with pytest.raises(ConflictError) as caught:
        Note.objects.append(key="k1", body={"v": 2})
    assert caught.value.identical is False
    assert caught.value.existing.seq == stored.seq
    assert Note.objects.get(key="k1").body == {"v": 1}
    assert Note.objects.count() == 1


def test_a_replay_of_the_same_entry_is_reported_identical(make_note):
    make_note("k1", body={"v": 1}, topic="t")
    with pytest.raises(ConflictError) as caught:
        Note.objects.append(key="k1", body={"v": 1.0}, topic="t")
    assert caught.value.identical is True


def test_a_batch_conflicting_with_a_stored_entry_stores_nothing(make_note):
    make_note("k1")
    with pytest.raises(ConflictError) as caught:
        Note.objects.append_many([{"key": "new"}, {"key": "k1"}])
    assert caught.value.index == 1
    assert Note.objects.count() == 1


def test_field_validation_happens_before_anything_is_stored():
    with pytest.raises(ValidationError) as caught:
        Note.objects.append(key="x" * 65)
    assert "key" in caught.value.message_dict
    assert not Note.objects.exists()


def test_an_integer_beyond_what_canonical_json_can_hold_is_refused():
    with pytest.raises(ValidationError, match="2\\*\\*53"):
        Note.objects.append(key="big", body={"n": 2**60})
    assert not Note.objects.exists()


def test_the_appended_signal_fires_once_after_commit(django_capture_on_commit_callbacks):
    received = []

    def handler(sender, first_seq, last_seq, **kwargs):
        received.append((sender, first_seq, last_seq))

    entries_appended.connect(handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            Note.objects.append_many([{"key": "a"}, {"key": "b"}])
        assert received == [(Note, 1, 2)]
    finally:
        entries_appended.disconnect(handler)


def test_a_rolled_back_append_leaves_no_entry_and_no_gap(make_note):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_note("doomed")
        raise RuntimeError("client went away")
    assert make_note("kept").seq == 1


def test_chainable_reads_work_on_ledger_querysets(make_note):
    make_note(topic="a")
    make_note(topic="b")
    assert Note.objects.for_topic("b").count() == 1
    assert Note.objects.head().seq == 2
    assert json.loads(Note.objects.head().canonical)["seq"] == 2


def test_text_with_a_nul_character_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        Note.objects.append(key="nul", body={"text": "a\x00b"})
    assert list(caught.value.message_dict) == ["body"]
    assert not Note.objects.exists()
    # A backslash followed by "u0000" is ordinary text, not a NUL.
    assert Note.objects.append(key="escaped", body={"text": "\\u0000"}).body == {"text": "\\u0000"}


@pytest.mark.parametrize("number", [1e21, -(2.0**53), 1e300])
def test_floats_too_large_to_come_back_as_sent_are_refused(number):
    with pytest.raises(ValidationError, match="2\\*\\*53"):
        Note.objects.append(key="float", body={"n": number})
    assert not Note.objects.exists()


def test_a_lone_surrogate_is_refused_not_a_crash():
    with pytest.raises(ValidationError, match="surrogate"):
        Note.objects.append(key="surrogate", body={"t": "\ud800"})
    assert not Note.objects.exists()


def test_a_replay_is_identical_by_the_hashed_bytes(make_note):
    stored = make_note("k1", body={"ratio": 0.1, "big": 2**52})
    assert stored.canonical.startswith('{"content":' + stored.hashed_content_json() + ',"ledger":')
    assert json.loads(stored.hashed_content_json()) == json.loads(stored.canonical)["content"]
    with pytest.raises(ConflictError) as caught:
        Note.objects.append(key="k1", body={"ratio": 0.1, "big": 2**52}, topic="general")
    assert caught.value.identical is True


def test_entries_cannot_be_inserted_around_the_append_path(make_note):
    make_note("first")
    with pytest.raises(ImmutableEntryError):
        Note(seq=7, key="forged", recorded_at=timezone.now(), prev_entry_hash="0" * 64, entry_hash="0" * 64).save_base(
            force_insert=True
        )
    assert list(Note.objects.values_list("key", flat=True)) == ["first"]
