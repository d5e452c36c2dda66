"""The append path's clock: the present, or, for demo data only, a past moment set around a block of appends."""

from contextlib import contextmanager
from contextvars import ContextVar

from django.utils import timezone

_backdated = ContextVar("ledger_backdated_moment", default=None)


def now():
    """The recorded_at of the next appended entries."""
    return _backdated.get() or timezone.now()


def backdated_moment():
    return _backdated.get()


@contextmanager
def backdated(moment):
    """Appends inside record `moment` as their recorded_at (demo data spread over weeks).

    Only in-process code can use it (no route or setting does): `load_demo` tells a story of past
    weeks. The append path refuses a moment earlier than the ledger's last recorded_at, so a chain's
    times never go backwards, and a moment in the future.
    """
    if timezone.is_naive(moment) or moment > timezone.now():
        raise ValueError("a backdated moment must be an aware time, not in the future")
    token = _backdated.set(moment)
    try:
        yield
    finally:
        _backdated.reset(token)
