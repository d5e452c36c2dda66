"""LedgerLogHandler: this application's own log records, bounded and rate-limited, handed to the appender.

Safe to name in LOGGING: it imports no model and needs no app (Django builds it before any app loads).
"""

import itertools
import logging
import os
import threading
import time

from logchain.appenders import NodeLogRecord
from logchain.ledger_appender import local
from logchain.levels import MAX_MESSAGE_CHARS, from_python

# What the application records about itself is bounded: a message of at most this many characters,
# no traceback, and at most a burst of records then a steady rate (a token bucket), so that no caller
# can make the audit ledger grow by sending requests that fail.
SELF_MESSAGE_CHARS = 1_000
REQUEST_PATH_CHARS = 200
DEFAULT_RATE_BURST = 30
DEFAULT_RATE_PER_MINUTE = 60
# Loggers whose records never reach the chain: the appender's own (see ledger_appender.logger).
OWN_LOGGERS = ("logchain.appender", "logchain.ledger_appender", "logchain.handler")


class HandlerCounters:
    """What the handler could not pass on, and the seed's per-runtime seq (strictly increasing from 1)."""

    def __init__(self):
        self.errors = 0
        self.last_error = ""
        self.rate_limited = 0  # records dropped over the rate limit; only ever grows
        self.next_seq = itertools.count(1)

    def note_error(self, exc):
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]


counters = HandlerCounters()


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
            from logchain.appender import appender_config

            config = appender_config()
            self.bucket = TokenBucket(config.rate_burst, config.rate_per_minute)
        return self.bucket

    def emit(self, record):
        if getattr(local, "flushing", False) or record.name.startswith(OWN_LOGGERS):
            return
        try:
            if not self._bucket().take():
                counters.rate_limited += 1
                return
            appender = self.appender
            if appender is None:
                from logchain.appender import get_appender

                appender = get_appender()
            appender.append(self.to_node_record(record, appender))
        except Exception as exc:
            counters.note_error(exc)

    def handleError(self, record):  # noqa: N802 - logging's name
        # logging would print a traceback to stderr; the failure is already counted.
        pass

    def to_node_record(self, record, appender=None):
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
        return NodeLogRecord(
            seq=next(counters.next_seq),
            ts_ms=int(record.created * 1000),
            level=from_python(record.levelno),
            daemon_id=os.getpid(),
            node_id=getattr(appender if appender is not None else self.appender, "node_id", None),
            message=message,
        )
