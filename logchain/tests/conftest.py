"""Builders for log records and a fresh process-wide appender per test."""

import itertools

import pytest

from logchain import appender as appender_module
from logchain.appenders import BufferingLogChainAppender, NodeLogRecord

_seqs = itertools.count(1)


@pytest.fixture
def log_fields():
    """log_fields(**overrides) → the seed's JSON for one record (a fresh seq each call)."""

    def make(**overrides):
        fields = {
            "seq": next(_seqs),
            "ts_ms": 1_700_000_000_000,
            "level": "Info",
            "daemon_id": 7,
            "node_id": 100,
            "message": "daemon started",
            "chain_pending": False,
        }
        fields.update(overrides)
        return fields

    return make


@pytest.fixture
def make_log(db, log_fields):
    """make_log(**overrides) → a stored LogRecord (`seq` in overrides is the node's seq)."""
    from logchain.models import LogRecord

    def make(**overrides):
        fields = log_fields(**overrides)
        fields["node_seq"] = fields.pop("seq")
        return LogRecord.objects.append(recorded_by="test", **fields)

    return make


def fixture_record(seq, **overrides):
    """The seed's test fixture: record `seq` of node 100, daemon 7."""
    fields = {
        "seq": seq,
        "ts_ms": 1_700_000_000_000 + seq,
        "level": "Info",
        "daemon_id": 7,
        "node_id": 100,
        "message": f"message {seq}",
        "chain_pending": False,
    }
    fields.update(overrides)
    return NodeLogRecord(**fields)


@pytest.fixture
def process_appender():
    """Install a fresh buffering appender as the process-wide one; restore the previous one after."""
    fresh = BufferingLogChainAppender(capacity=50)
    previous = appender_module.set_appender(fresh)
    yield fresh
    appender_module.set_appender(previous)
