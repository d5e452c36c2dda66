"""LogRecord's append path and queries: the natural key, levels, and the read filters."""

import pytest
from django.core.exceptions import ValidationError

from ledgerproject.ledger.exceptions import ConflictError, ImmutableEntryError
from logchain.levels import LEVELS, at_least
from logchain.models import LogRecord

pytestmark = pytest.mark.django_db


def test_it_appends_a_record_with_the_kernels_chain(make_log):
    first = make_log(node_id=1, seq=1)
    second = make_log(node_id=1, seq=2)
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_entry_hash == first.entry_hash
    assert first.ledger_name == "logchain"


def test_it_rejects_a_second_append_with_the_same_node_and_seq(make_log):
    stored = make_log(node_id=3, seq=7, message="original")
    with pytest.raises(ConflictError) as conflict:
        make_log(node_id=3, seq=7, message="changed")
    assert conflict.value.identical is False
    assert conflict.value.existing.pk == stored.pk
    assert LogRecord.objects.get(pk=stored.pk).message == "original"


def test_a_replayed_record_is_an_identical_conflict(make_log):
    make_log(node_id=3, seq=7, ts_ms=5, message="same")
    with pytest.raises(ConflictError) as conflict:
        make_log(node_id=3, seq=7, ts_ms=5, message="same")
    assert conflict.value.identical is True
    assert LogRecord.objects.count() == 1


def test_the_same_seq_on_another_node_is_not_a_conflict(make_log):
    make_log(node_id=1, seq=1)
    make_log(node_id=2, seq=1)
    assert LogRecord.objects.count() == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("level", "Fatal"), ("level", "warn"), ("node_seq", 0), ("ts_ms", 2**53), ("message", "x" * 65_537)],
)
def test_it_refuses_an_invalid_record(make_log, field, value):
    overrides = {"seq": value} if field == "node_seq" else {field: value}
    with pytest.raises(ValidationError):
        make_log(**overrides)
    assert not LogRecord.objects.exists()


def test_the_level_order_is_the_seeds():
    assert LEVELS == ("Trace", "Debug", "Info", "Warn", "Error")
    assert at_least("Warn") == ["Warn", "Error"]
    assert at_least("Trace") == list(LEVELS)


def test_min_level_keeps_records_at_or_above_it(make_log):
    for seq, level in enumerate(LEVELS, start=1):
        make_log(seq=seq, level=level)
    assert list(LogRecord.objects.at_least("Info").values_list("level", flat=True)) == ["Info", "Warn", "Error"]
    assert list(LogRecord.objects.at_least("Error").values_list("level", flat=True)) == ["Error"]


def test_the_time_window_is_inclusive(make_log):
    for seq, ts in enumerate((100, 200, 300), start=1):
        make_log(seq=seq, ts_ms=ts)
    assert list(LogRecord.objects.between_ms(200, 300).values_list("ts_ms", flat=True)) == [200, 300]
    assert list(LogRecord.objects.between_ms(until_ms=100).values_list("ts_ms", flat=True)) == [100]


def test_text_search_ignores_case(make_log):
    make_log(seq=1, message="Segment 4 replica LAGGING")
    make_log(seq=2, message="heartbeat ok")
    assert list(LogRecord.objects.search("lagging").values_list("node_seq", flat=True)) == [1]


def test_a_stored_record_cannot_be_changed(make_log):
    record = make_log()
    record.message = "rewritten"
    with pytest.raises(ImmutableEntryError):
        record.save()
    with pytest.raises(ImmutableEntryError):
        LogRecord.objects.filter(pk=record.pk).update(message="rewritten")
