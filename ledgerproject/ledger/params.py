"""Query-parameter parsing for views that read a parameter by hand (pages, admin views, API actions).

A FilterSet validates the parameters it declares; these helpers are for the few a view reads itself
(keyset cursors, offsets, limits, instants). Each answers None for a value it cannot use, so the view
chooses between ignoring it (a page) and a 400 naming it (the API) — never an exception from `int()`
or the date library that would surface as a 500.
"""

import re
from datetime import UTC

from django.utils.dateparse import parse_datetime

from ledgerproject.ledger.validators import MAX_JSON_INT

# ASCII digits only: str.isdigit() accepts "²" and int() then refuses it.
_INTEGER = re.compile(r"-?[0-9]{1,18}")


def parse_int(text, minimum=None, maximum=MAX_JSON_INT):
    """An integer written in ASCII digits within [minimum, maximum], else None."""
    text = (text or "").strip() if isinstance(text, str) else ""
    if not _INTEGER.fullmatch(text):
        return None
    value = int(text)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        return None
    return value


def parse_instant(text):
    """An ISO 8601 instant whose UTC time exists (years 1–9999), else None.

    parse_datetime raises ValueError for an impossible date (2026-02-30) and accepts offsets that push
    the UTC instant outside the calendar (0001-01-01T00:00:00+14:00), which the database driver then
    refuses with OverflowError: both are None here.
    """
    try:
        moment = parse_datetime((text or "").strip())
        if moment is not None and moment.tzinfo is not None:
            moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment
