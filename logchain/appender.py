"""The application's own log chain, process-wide: the appender its settings name, its counters, fork safety.

The pieces live by concern: the seed's seam and buffer (`appenders`), the background ledger writer
(`ledger_appender`), the logging handler (`handler`). This module builds the one appender of the
process from the LOGCHAIN_* settings, which `ledgerproject/settings.py` parses strictly from the
environment (a bad value fails at start, naming the variable); `appender_config()` checks a value a
settings module set in code the same way, when the app loads. It also keeps the names older imports
use (`logchain.appender.LedgerLogHandler` in LOGGING).
"""

import math
import os
import threading
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from ledgerproject.ledger.validators import MAX_JSON_INT
from logchain.appenders import (
    DEFAULT_LOG_BUFFERING_APPENDER_CAPACITY,
    BufferingLogChainAppender,
    LogAppendError,
    LogChainAppender,
    NodeLogRecord,
    NoOpLogChainAppender,
)
from logchain.handler import (
    DEFAULT_RATE_BURST,
    DEFAULT_RATE_PER_MINUTE,
    REQUEST_PATH_CHARS,
    SELF_MESSAGE_CHARS,
    LedgerLogHandler,
    TokenBucket,
    counters,
)
from logchain.ledger_appender import DEFAULT_FLUSH_INTERVAL, LedgerLogChainAppender

__all__ = [
    "BufferingLogChainAppender",
    "LedgerLogChainAppender",
    "LedgerLogHandler",
    "LogAppendError",
    "LogChainAppender",
    "NoOpLogChainAppender",
    "NodeLogRecord",
    "REQUEST_PATH_CHARS",
    "SELF_MESSAGE_CHARS",
    "TokenBucket",
    "appender_config",
    "appender_stats",
    "build_appender",
    "get_appender",
    "set_appender",
]

MODES = ("ledger", "buffer", "noop")


@dataclass(frozen=True)
class AppenderConfig:
    """The LOGCHAIN_* settings, checked."""

    mode: str = "ledger"
    capacity: int = DEFAULT_LOG_BUFFERING_APPENDER_CAPACITY
    node_id: int = 0
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    rate_burst: int = DEFAULT_RATE_BURST
    rate_per_minute: float = DEFAULT_RATE_PER_MINUTE


def _checked(name, value, kind, minimum, maximum=None):
    """A numeric setting as given, or ImproperlyConfigured naming it."""
    wrong = isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value)
    if wrong or value < minimum or (maximum is not None and value > maximum):
        what = "a whole number" if kind is int else "a number"
        bounds = f">= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        raise ImproperlyConfigured(f"{name}={value!r} must be {what} {bounds}")
    return value


def appender_config():
    """The checked LOGCHAIN_* settings (read before the apps load too: the handler is built by LOGGING)."""
    from django.conf import settings

    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return AppenderConfig()  # outside Django (a script using the classes): the defaults
    default = AppenderConfig()
    mode = getattr(settings, "LOGCHAIN_APPENDER", default.mode)
    if mode not in MODES:
        raise ImproperlyConfigured(f"LOGCHAIN_APPENDER={mode!r} is not one of {', '.join(MODES)}")

    def read(name, field, kind, minimum, maximum=None):
        return _checked(name, getattr(settings, name, getattr(default, field)), kind, minimum, maximum)

    return AppenderConfig(
        mode=mode,
        capacity=read("LOGCHAIN_APPENDER_CAPACITY", "capacity", int, 1),
        node_id=read("LOGCHAIN_NODE_ID", "node_id", int, 0, MAX_JSON_INT),
        flush_interval=read("LOGCHAIN_FLUSH_INTERVAL", "flush_interval", (int, float), 0.05),
        rate_burst=read("LOGCHAIN_RATE_BURST", "rate_burst", int, 1),
        rate_per_minute=read("LOGCHAIN_RATE_PER_MINUTE", "rate_per_minute", (int, float), 0),
    )


def build_appender():
    """The appender that LOGCHAIN_APPENDER names: ledger, buffer or noop."""
    config = appender_config()
    if config.mode == "noop":
        return NoOpLogChainAppender()
    if config.mode == "buffer":
        return BufferingLogChainAppender(config.capacity)
    return LedgerLogChainAppender(capacity=config.capacity, node_id=config.node_id, interval=config.flush_interval)


_appender = None
_appender_lock = threading.Lock()


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
            "handler_errors": counters.errors,
            "rate_limited": counters.rate_limited,
            "last_handler_error": counters.last_error,
            # Kept for the clients that read it: a bad setting now fails at start instead.
            "config_error": "",
        }
    )
    return stats


def _after_fork_in_child():
    appender = _appender
    if isinstance(appender, LedgerLogChainAppender):
        appender._reset_after_fork()
    elif isinstance(appender, BufferingLogChainAppender):
        appender._reset_lock_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
