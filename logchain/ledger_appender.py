"""The appender that writes to the `logchain` ledger from a background thread, never from the caller's.

A failure is counted and the record is marked `chain_pending` ("never reached the chain" as opposed
to "not written yet"). Nothing here touches the database in the caller's thread, and nothing imports
models at import time. The buffer is written by a daemon thread, and once more at interpreter exit.
"""

import atexit
import logging
import threading
import time
from dataclasses import replace

from logchain.appenders import DEFAULT_LOG_BUFFERING_APPENDER_CAPACITY, BufferingLogChainAppender, LogChainAppender

DEFAULT_FLUSH_INTERVAL = 2.0
DEFAULT_BATCH_SIZE = 500
# The frozen `recorded_by` of the application's own records in the ledger.
APPENDER_PRINCIPAL = "logchain-appender"

# This module's own warnings go to the other handlers only: feeding them back into the chain
# would turn one database outage into an endless stream of "append failed" records.
logger = logging.getLogger(__name__)
# `flushing` is set while this thread writes to the ledger: the handler then passes nothing on.
local = threading.local()


def _apps_ready():
    try:
        from django.apps import apps

        return apps.ready
    except Exception:
        return False


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
        previous_guard = getattr(local, "flushing", False)
        local.flushing = True
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
            local.flushing = previous_guard
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
        from django.db import router

        from logchain.models import LogRecord

        db = self.using or router.db_for_write(LogRecord)
        # node_seq is left out: the append path numbers each node's records under the ledger's lock.
        rows = [
            {
                "node_id": self.node_id if record.node_id is None else record.node_id,
                "ts_ms": record.ts_ms,
                "level": record.level,
                "daemon_id": record.daemon_id,
                "message": record.message,
                "chain_pending": record.chain_pending,
            }
            for record in records
        ]
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
