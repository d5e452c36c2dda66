"""Parsing the `as_of` moment of "what was current at T" queries (API and pages alike)."""

import datetime
import re

from django.utils.dateparse import parse_date, parse_datetime

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# "…T12:00:00+02:00" sent unencoded in a query string arrives with a space where the "+" was.
_LOST_PLUS = re.compile(r"^(.*\d)\s(\d{2}(?::?\d{2})?)$")


def parse_as_of(text):
    """An aware UTC datetime from ISO 8601 text; ValueError with a readable reason otherwise.

    Times without an offset are UTC (the API's convention, and what the page's picker sends);
    a date alone means the end of that day, i.e. "as of the 21st" includes everything on the 21st.
    """
    text = (text or "").strip()
    if not text:
        raise ValueError("as_of is empty; give an ISO 8601 time such as 2026-01-21T12:00:00Z.")
    moment = day = None
    if _DATE_ONLY.match(text):
        try:
            day = parse_date(text)
        except ValueError:
            day = None
    for candidate in () if day else (text, _LOST_PLUS.sub(r"\1+\2", text)):
        try:
            moment = parse_datetime(candidate)
        except ValueError:  # well formed but impossible, e.g. February 30th
            moment = None
        if moment is not None:
            break
    if day is not None:
        moment = datetime.datetime.combine(day, datetime.time.max)
    if moment is None:
        raise ValueError(f"as_of {text!r} is not an ISO 8601 time; use e.g. 2026-01-21T12:00:00Z.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)
