"""The application's own log chain: seed 002's appender seam (no-op, bounded buffer, ledger) and a logging.Handler.

The seed's rules, kept here: appending never raises into the caller and never wedges it; a failure
is counted and the record is marked `chain_pending` ("never reached the chain" as opposed to "not
written yet"); a bounded buffer drops its oldest record past capacity and counts the drops.

Nothing in this module touches the database in the caller's thread, and nothing imports models at
import time: `LedgerLogHandler` is built by Django's LOGGING setup before any app is loaded. The
ledger appender buffers in memory and writes from a background daemon thread, and once more at
interpreter exit (atexit).
"""

import atexit
import itertools
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

from ledgerproject.ledger.validators import MAX_JSON_INT
from logchain.levels import MAX_MESSAGE_CHARS, from_python

DEFAULT_LOG_BUFFERING_APPENDER_CAPACITY = 16_384
DEFAULT_FLUSH_INTERVAL = 2.0
DEFAULT_BATCH_SIZE = 500
# What the application records about itself is bounded: a message of at most this many characters,
# no traceback, and at most a burst of records then a steady rate (a token bucket), so that no caller
# can make the audit ledger grow by sending requests that fail.
SELF_MESSAGE_CHARS = 1_000
REQUEST_PATH_CHARS = 200
DEFAULT_RATE_BURST = 30
DEFAULT_RATE_PER_MINUTE = 60
# The frozen `recorded_by` of the application's own records in the ledger.
APPENDER_PRINCIPAL = "logchain-appender"

# This module's own warnings go to the other handlers only: feeding them back into the chain
# would turn one database outage into an endless stream of "append failed" records.
logger = logging.getLogger(__name__)
_local = threading.local()


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


class LedgerLogChainAppender(LogChainAppender):
    """Appends records to the `logchain` ledger, never from the caller's thread.

    append() only puts the record in a bounded buffer. flush() (the background thread every
    `interval` seconds, atexit, or a caller) writes buffered records in batches. The ledger's
    per-node `seq` of these records is assigned at flush, under the ledger's lock, so every worker
    process and every restart of this node continues one gapless sequence. A batch that cannot be
    written (database down, table not migrated yet) goes back to the front of the buffer marked
    `chain_pending`, the failure is counted, and the next flush retries after a back-off.
    """

    kind = "ledger"

    def __init__(
        self,
        capacity=DEFAULT_LOG_BUFFERING_APPENDER_CAPACITY,
        node_id=0,
        using=None,
        interval=DEFAULT_FLUSH_INTERVAL,
        batch_size=DEFAULT_BATCH_SIZE,
        background=True,
    ):
        self.buffer = BufferingLogChainAppender(capacity)
        self.node_id = node_id
        self.using = using
        self.interval = max(0.05, float(interval))
        self.batch_size = max(1, int(batch_size))
        self.background = background
        self.appended = 0
        self.failures = 0
        self.rejected = 0
        self.last_error = ""
        self.last_flush_at_ms = None
        self._consecutive_failures = 0
        self._flush_lock = threading.Lock()
        self._thread_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._atexit_registered = False

    @property
    def capacity(self):
        return self.buffer.capacity

    def append(self, record):
        self.buffer.append(record)
        if self.background:
            self._ensure_thread()
            if len(self.buffer) >= self.batch_size:
                self._wake.set()

    # -- writing -------------------------------------------------------------------------------

    def flush(self, deadline=None):
        """Write what is buffered now, batch by batch; stop at the first failure. Never raises.

        Returns how many records reached the ledger. Does nothing before Django's apps are ready.
        """
        if not _apps_ready() or not len(self.buffer):
            return 0
        timeout = -1 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._flush_lock.acquire(timeout=timeout):
            return 0
        written = 0
        previous_guard = getattr(_local, "flushing", False)
        _local.flushing = True
        try:
            while len(self.buffer) and (deadline is None or time.monotonic() < deadline):
                batch = self.buffer.take(self.batch_size)
                if not batch:
                    break
                stored = self._write_batch(batch)
                if stored is None:
                    break
                written += stored
        except Exception as exc:  # belt and braces: a flush must never raise into its caller
            self._note_failure(exc)
        finally:
            _local.flushing = previous_guard
            self._flush_lock.release()
            if written or self._consecutive_failures:
                self.last_flush_at_ms = int(time.time() * 1000)
                self._close_connection()
        return written

    def _write_batch(self, batch):
        """Write one batch; on failure put it back (marked pending) and return None."""
        from ledgerproject.ledger.exceptions import BatchValidationError

        try:
            self._write(batch)
        except BatchValidationError as exc:
            # A record the ledger refuses would be refused forever: drop it (counted), keep the rest.
            bad = {index for index, _ in exc.items}
            self.rejected += len(bad)
            self.last_error = f"rejected {len(bad)} record(s): {exc.items[0][1]}"
            self.buffer.put_back([record for index, record in enumerate(batch) if index not in bad])
            return 0
        except Exception as exc:
            self.buffer.put_back([replace(record, chain_pending=True) for record in batch])
            self._note_failure(exc)
            return None
        self.appended += len(batch)
        self._consecutive_failures = 0
        return len(batch)

    def _write(self, records):
        from django.db import connections, router, transaction
        from django.db.models import Max

        from ledgerproject.ledger.locking import lock_ledger
        from logchain.models import LogRecord

        db = self.using or router.db_for_write(LogRecord)
        with transaction.atomic(using=db):
            # Held across reading each node's highest seq and the insert, so seqs never collide.
            lock_ledger(connections[db], LogRecord.ledger_name)
            last_seq, rows = {}, []
            for record in records:
                node_id = self.node_id if record.node_id is None else record.node_id
                if node_id not in last_seq:
                    top = LogRecord.objects.using(db).filter(node_id=node_id).aggregate(top=Max("node_seq"))["top"]
                    last_seq[node_id] = top or 0
                last_seq[node_id] += 1
                rows.append(
                    {
                        "node_id": node_id,
                        "node_seq": last_seq[node_id],
                        "ts_ms": record.ts_ms,
                        "level": record.level,
                        "daemon_id": record.daemon_id,
                        "message": record.message,
                        "chain_pending": record.chain_pending,
                    }
                )
            LogRecord.objects.using(db).append_many(rows, recorded_by=APPENDER_PRINCIPAL)

    def _note_failure(self, exc):
        self.failures += 1
        self._consecutive_failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        logger.warning("log chain append failed, %d record(s) kept as pending: %s", len(self.buffer), self.last_error)

    def _close_connection(self):
        # The flusher's connection belongs to its thread and no request cycle ever closes it.
        if threading.current_thread() is not self._thread:
            return
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass

    # -- background thread and shutdown ----------------------------------------------------------

    def _ensure_thread(self):
        if self._thread is not None and self._thread.is_alive():
            return
        with self._thread_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="logchain-flusher", daemon=True)
            self._thread.start()
            if not self._atexit_registered:
                atexit.register(self.shutdown)
                self._atexit_registered = True

    def _run(self):
        while not self._stop.is_set():
            # Back off while the database is failing: 2s, 4s, 8s … up to a minute.
            wait = min(60.0, self.interval * (2 ** min(self._consecutive_failures, 5)))
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.flush()

    def shutdown(self, timeout=5.0):
        """Stop the background thread and write what is still buffered, within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.flush(deadline=deadline)

    def _reset_after_fork(self):
        # A forked child (gunicorn --preload) has no flusher thread and must not share the parent's locks.
        self.buffer._reset_lock_after_fork()
        self._flush_lock = threading.Lock()
        self._thread_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None

    def stats(self):
        return {
            **self.buffer.stats(),
            "kind": self.kind,
            "appended": self.appended,
            "failures": self.failures,
            "rejected": self.rejected,
            "last_error": self.last_error,
            "last_flush_at_ms": self.last_flush_at_ms,
            "node_id": self.node_id,
            "flush_interval_s": self.interval,
        }


# -- the process-wide appender ---------------------------------------------------------------------

_appender = None
_appender_lock = threading.Lock()
_handler_errors = 0
_last_handler_error = ""
_rate_limited = 0  # records the handler dropped over its rate limit; only ever grows
_config_error = ""
_next_seq = itertools.count(1)  # the seed's per-runtime seq: strictly increasing from 1 in this process


def _apps_ready():
    try:
        from django.apps import apps

        return apps.ready
    except Exception:
        return False


def _setting(name, default, cast):
    """A setting, else the environment variable of that name, else the default; never raises."""
    global _config_error
    value = None
    try:
        from django.conf import settings

        if settings.configured:
            value = getattr(settings, name, None)
    except Exception:
        value = None
    if value is None:
        value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return cast(value)
    except (TypeError, ValueError):
        _config_error = f"{name}={value!r} is not valid; using {default!r}"
        return default


def _under_test_database():
    try:
        from django.conf import settings

        # Only the test settings allow resetting ledger tables: the database is a throwaway one, and a
        # background writer there would leak rows past each test's transaction.
        return settings.configured and bool(getattr(settings, "LEDGER_ALLOW_TEST_RESET", False))
    except Exception:
        return False


def build_appender():
    """The appender that LOGCHAIN_APPENDER (setting or environment) names: ledger, buffer or noop."""
    mode = _setting("LOGCHAIN_APPENDER", "", str).strip().lower()
    if not mode:
        mode = "buffer" if _under_test_database() else "ledger"
    capacity = _setting("LOGCHAIN_APPENDER_CAPACITY", DEFAULT_LOG_BUFFERING_APPENDER_CAPACITY, int)
    if mode == "noop":
        return NoOpLogChainAppender()
    if mode == "buffer":
        return BufferingLogChainAppender(capacity)
    if mode != "ledger":
        global _config_error
        _config_error = f"LOGCHAIN_APPENDER={mode!r} is not one of ledger, buffer, noop; using ledger"
    node_id = _setting("LOGCHAIN_NODE_ID", 0, int)
    if not 0 <= node_id <= MAX_JSON_INT:
        node_id = 0
    interval = _setting("LOGCHAIN_FLUSH_INTERVAL", DEFAULT_FLUSH_INTERVAL, float)
    return LedgerLogChainAppender(capacity=capacity, node_id=node_id, interval=interval)


def get_appender():
    """The process-wide appender, built on first use from the settings."""
    global _appender
    if _appender is None:
        with _appender_lock:
            if _appender is None:
                _appender = build_appender()
    return _appender


def set_appender(appender):
    """Install `appender` as the process-wide one (None: build from settings on next use); returns the old one."""
    global _appender
    with _appender_lock:
        previous, _appender = _appender, appender
    return previous


def appender_stats():
    """The process-wide appender's counters plus the handler's own, for the API and the health panel."""
    appender = get_appender()
    try:
        stats = appender.stats()
    except Exception as exc:
        stats = {**LogChainAppender.stats(appender), "last_error": f"stats unavailable: {exc}"}
    stats.setdefault("node_id", None)
    stats.setdefault("flush_interval_s", None)
    stats.update(
        {
            "pid": os.getpid(),
            "handler_errors": _handler_errors,
            "rate_limited": _rate_limited,
            "last_handler_error": _last_handler_error,
            "config_error": _config_error,
        }
    )
    return stats


def _note_handler_error(exc):
    global _handler_errors, _last_handler_error
    _handler_errors += 1
    _last_handler_error = f"{type(exc).__name__}: {exc}"[:500]


def _after_fork_in_child():
    appender = _appender
    if isinstance(appender, LedgerLogChainAppender):
        appender._reset_after_fork()
    elif isinstance(appender, BufferingLogChainAppender):
        appender._reset_lock_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class TokenBucket:
    """At most `capacity` records at once, refilled at `per_minute` a minute; take() says whether one may pass."""

    def __init__(self, capacity=DEFAULT_RATE_BURST, per_minute=DEFAULT_RATE_PER_MINUTE, clock=time.monotonic):
        self.capacity = max(1, int(capacity))
        self.per_second = max(0.0, float(per_minute)) / 60.0
        self.clock = clock
        self.tokens = float(self.capacity)
        self.updated = clock()
        self._lock = threading.Lock()

    def take(self):
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def _printable(text, limit):
    """`text` without control characters (no forged line breaks), cut to `limit` characters."""
    text = "".join(c if c.isprintable() else "?" for c in str(text)[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LedgerLogHandler(logging.Handler):
    """Sends this application's log records through the configured appender.

    emit() only formats the record and hands it to the appender (for the ledger appender: an
    in-memory buffer), so it never blocks on the database and never raises: any failure is
    counted in `handler_errors`. Safe to name in LOGGING: it imports no model and needs no app.

    What it hands on is bounded: no traceback or stack (the exception's class name only: tracebacks
    name server paths and database hosts, and belong on stderr, where operators read them), a
    request's path without its query string and cut short, the whole message at most
    SELF_MESSAGE_CHARS, and at most a burst then a steady rate of records (LOGCHAIN_RATE_BURST,
    LOGCHAIN_RATE_PER_MINUTE); records over the rate are dropped and counted in `rate_limited`.
    """

    def __init__(self, level=logging.NOTSET, appender=None, bucket=None):
        super().__init__(level)
        self.appender = appender  # None: the process-wide appender
        self.bucket = bucket  # None: built from the settings on first use

    def _bucket(self):
        if self.bucket is None:
            self.bucket = TokenBucket(
                _setting("LOGCHAIN_RATE_BURST", DEFAULT_RATE_BURST, int),
                _setting("LOGCHAIN_RATE_PER_MINUTE", DEFAULT_RATE_PER_MINUTE, float),
            )
        return self.bucket

    def emit(self, record):
        global _rate_limited
        if getattr(_local, "flushing", False) or record.name == __name__ or record.name.startswith(__name__ + "."):
            return
        try:
            if not self._bucket().take():
                _rate_limited += 1
                return
            appender = self.appender if self.appender is not None else get_appender()
            appender.append(self.to_node_record(record))
        except Exception as exc:
            _note_handler_error(exc)

    def handleError(self, record):  # noqa: N802 - logging's name
        # logging would print a traceback to stderr; the failure is already counted.
        pass

    def to_node_record(self, record):
        request = getattr(record, "request", None)
        if request is not None:
            # Django's request loggers: the caller chose the URL. Keep the method, the status and a
            # bounded path (request.path carries no query string), not the message built from them.
            status = getattr(record, "status_code", None) or ""
            path = _printable(getattr(request, "path", ""), REQUEST_PATH_CHARS)
            text = f"{status} {_printable(getattr(request, 'method', ''), 10)} {path}".strip()
        else:
            text = record.getMessage()
        message = f"{record.name}: {text}"
        if record.exc_info and record.exc_info[0] is not None:
            message += f" ({record.exc_info[0].__name__})"
        limit = min(SELF_MESSAGE_CHARS, MAX_MESSAGE_CHARS)
        if len(message) > limit:
            marker = " …[truncated]"
            message = message[: limit - len(marker)] + marker
        appender = self.appender if self.appender is not None else _appender
        return NodeLogRecord(
            seq=next(_next_seq),
            ts_ms=int(record.created * 1000),
            level=from_python(record.levelno),
            daemon_id=os.getpid(),
            node_id=getattr(appender, "node_id", None),
            message=message,
        )
