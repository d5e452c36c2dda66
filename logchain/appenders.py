"""Seed 002's appender seam: the record that travels, the interface, and the no-op and bounded-buffer appenders.

The seed's rules, kept here: appending never raises into the caller and never wedges it; a bounded
buffer drops its oldest record past capacity and counts the drops.
"""

import threading
from collections import deque
from dataclasses import dataclass

DEFAULT_LOG_BUFFERING_APPENDER_CAPACITY = 16_384


@dataclass(frozen=True)
class NodeLogRecord:
    """The seed's LogRecord as it travels through an appender (the model is logchain.models.LogRecord)."""

    seq: int
    ts_ms: int
    level: str
    daemon_id: int | None
    node_id: int | None
    message: str
    chain_pending: bool = False


class LogAppendError(Exception):
    """An append failed; `reason` is for operators. Callers count it and carry on."""

    def __init__(self, reason):
        self.reason = reason
        super().__init__(f"log-chain append failed: {reason}")


class LogChainAppender:
    """The seam: append(record) stores or forwards one record, or raises LogAppendError (non-fatal)."""

    kind = "abstract"

    def append(self, record):
        raise NotImplementedError

    def stats(self):
        """What the health panel shows; every appender reports the same keys."""
        return {
            "kind": self.kind,
            "capacity": None,
            "buffered": 0,
            "dropped": 0,
            "pending": 0,
            "appended": 0,
            "failures": 0,
            "rejected": 0,
            "last_error": "",
            "last_flush_at_ms": None,
        }


class NoOpLogChainAppender(LogChainAppender):
    """The default of the seed: accepts every record and keeps none."""

    kind = "noop"

    def append(self, record):
        return None


class BufferingLogChainAppender(LogChainAppender):
    """Keeps the newest `capacity` records in order; past capacity the oldest is dropped and counted."""

    kind = "buffer"

    def __init__(self, capacity=DEFAULT_LOG_BUFFERING_APPENDER_CAPACITY):
        self.capacity = max(1, int(capacity))  # the seed clamps 0 to 1
        self._records = deque()
        self._dropped = 0  # only ever grows
        self._lock = threading.Lock()

    def append(self, record):
        with self._lock:
            if len(self._records) >= self.capacity:
                self._records.popleft()
                self._dropped += 1
            self._records.append(record)

    def captured(self):
        """A snapshot of the buffered records, oldest first."""
        with self._lock:
            return list(self._records)

    def dropped_count(self):
        """How many records were dropped because the buffer was full. Never decreases."""
        return self._dropped

    def __len__(self):
        return len(self._records)

    def pending_count(self):
        with self._lock:
            return sum(1 for record in self._records if record.chain_pending)

    def take(self, limit):
        """Remove and return up to `limit` of the oldest records."""
        with self._lock:
            return [self._records.popleft() for _ in range(min(limit, len(self._records)))]

    def put_back(self, records):
        """Return records taken by take() to the front; if that overflows, the oldest are dropped and counted."""
        with self._lock:
            self._records.extendleft(reversed(records))
            while len(self._records) > self.capacity:
                self._records.popleft()
                self._dropped += 1

    def _reset_lock_after_fork(self):
        self._lock = threading.Lock()

    def stats(self):
        return {
            **super().stats(),
            "capacity": self.capacity,
            "buffered": len(self._records),
            "dropped": self._dropped,
            "pending": self.pending_count(),
        }
