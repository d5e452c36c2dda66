"""The seed's appender contract: no-op accepts all; the buffer keeps order, drops the oldest and counts it."""

import threading

import pytest

from logchain.appenders import (
    DEFAULT_LOG_BUFFERING_APPENDER_CAPACITY,
    BufferingLogChainAppender,
    LogAppendError,
    NoOpLogChainAppender,
)
from logchain.tests.conftest import fixture_record


def test_no_op_accepts_every_record():
    app = NoOpLogChainAppender()
    assert app.append(fixture_record(1)) is None
    assert app.append(fixture_record(2)) is None
    assert app.stats()["buffered"] == 0


def test_buffering_captures_records_in_order():
    app = BufferingLogChainAppender()
    for seq in range(1, 4):
        app.append(fixture_record(seq))
    captured = app.captured()
    assert [record.seq for record in captured] == [1, 2, 3]
    assert app.dropped_count() == 0


def test_buffering_keeps_the_newest_and_counts_the_dropped_when_over_capacity():
    app = BufferingLogChainAppender(capacity=2)
    for seq in range(1, 6):
        app.append(fixture_record(seq))
    assert [record.seq for record in app.captured()] == [4, 5]
    assert app.dropped_count() == 3


@pytest.mark.parametrize("capacity", [0, -5])
def test_it_clamps_a_capacity_below_one_to_one(capacity):
    app = BufferingLogChainAppender(capacity=capacity)
    app.append(fixture_record(1))
    app.append(fixture_record(2))
    assert app.capacity == 1
    assert [record.seq for record in app.captured()] == [2]
    assert app.dropped_count() == 1


def test_the_default_capacity_is_the_seeds():
    assert DEFAULT_LOG_BUFFERING_APPENDER_CAPACITY == 16_384
    assert BufferingLogChainAppender().capacity == 16_384


def test_the_dropped_count_only_ever_grows():
    app = BufferingLogChainAppender(capacity=3)
    seen = []
    for seq in range(1, 10):
        app.append(fixture_record(seq))
        seen.append(app.dropped_count())
    app.take(3)  # emptying the buffer does not reset the count
    seen.append(app.dropped_count())
    assert seen == sorted(seen)
    assert seen[-1] == 6


def test_it_puts_taken_records_back_in_front_and_drops_the_oldest_past_capacity():
    app = BufferingLogChainAppender(capacity=4)
    for seq in range(1, 4):
        app.append(fixture_record(seq))
    taken = app.take(2)
    app.append(fixture_record(4))
    app.append(fixture_record(5))
    app.put_back(taken)  # 1, 2 back in front of 3, 4, 5: one too many
    assert [record.seq for record in app.captured()] == [2, 3, 4, 5]
    assert app.dropped_count() == 1


def test_concurrent_appends_lose_nothing_but_what_capacity_drops():
    app = BufferingLogChainAppender(capacity=1000)

    def writer(base):
        for offset in range(500):
            app.append(fixture_record(base + offset))

    threads = [threading.Thread(target=writer, args=(base,)) for base in (0, 10_000, 20_000, 30_000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(app.captured()) == 1000
    assert app.dropped_count() == 1000


def test_the_append_error_names_its_reason():
    error = LogAppendError("disk full")
    assert error.reason == "disk full"
    assert str(error) == "log-chain append failed: disk full"
