"""The trail of an id: every entry in every ledger that refers to it, in time order, paged by a keyset.

Each ledger model declares `trail_fields`, the indexed lookups whose value is an id the entry
refers to (a correlation, a run, a blueprint, …). An entry belongs to the trail of X when one of
them equals X. Reads go through `visible_to(user)`; a page is at most PAGE_SIZE rows, read as the
first PAGE_SIZE + 1 of each ledger after the cursor, then merged.
"""

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.search import MAX_QUERY, MIN_QUERY, SearchError

PAGE_SIZE = 100


@dataclass(frozen=True)
class Cursor:
    """Position after the row (recorded_at, ledger, seq): the order rows of several ledgers share."""

    recorded_at: object
    ledger: str
    seq: int

    def token(self):
        return f"{self.recorded_at.isoformat()}~{self.ledger}~{self.seq}"

    @classmethod
    def parse(cls, token):
        """The cursor a token names, or None for a missing or garbled one (the first page)."""
        parts = (token or "").split("~")
        if len(parts) != 3 or not parts[2].isdigit():
            return None
        moment = parse_datetime(parts[0])
        return cls(moment, parts[1], int(parts[2])) if moment else None


def _after(model, cursor):
    if cursor is None:
        return Q()
    later = Q(recorded_at__gt=cursor.recorded_at)
    if model.ledger_name > cursor.ledger:
        return later | Q(recorded_at=cursor.recorded_at)
    if model.ledger_name == cursor.ledger:
        return later | Q(recorded_at=cursor.recorded_at, seq__gt=cursor.seq)
    return later


def _refers_to(model, value):
    """Q(one of the model's trail fields == value), or None when no field can hold such a value."""
    conditions = []
    for lookup in getattr(model, "trail_fields", ()):
        try:
            model._base_manager.filter(**{lookup: value}).query  # noqa: B018 - values a column cannot hold raise here
        except (ValidationError, ValueError, TypeError):
            continue
        conditions.append(Q(**{lookup: value}))
    return reduce(or_, conditions) if conditions else None


def trail_queries(user, value, cursor=None, page_size=PAGE_SIZE):
    """(model, bounded queryset) per ledger the principal can view whose trail fields can hold the
    value: the queries trail() runs (bench/search_explain.py EXPLAINs these very querysets)."""
    for model in ledger_models():
        opts = model._meta
        if not user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
            continue
        condition = _refers_to(model, value)
        if condition is None:
            continue
        yield (
            model,
            model.objects.visible_to(user)
            .filter(condition)
            .filter(_after(model, cursor))
            .order_by("recorded_at", "seq")[: page_size + 1],
        )


def trail(user, text, after=None, page_size=PAGE_SIZE):
    """(entries, next cursor token or None): the next page of entries referring to the id."""
    value = (text or "").strip()
    if len(value) < MIN_QUERY:
        raise SearchError(
            f"Name an id of at least {MIN_QUERY} characters: a correlation id, run id, blueprint id, issue id, …"
        )
    if len(value) > MAX_QUERY:
        raise SearchError(f"The id is too long: ids are at most {MAX_QUERY} characters.")
    rows = []
    for _model, queryset in trail_queries(user, value, Cursor.parse(after), page_size):
        rows.extend(queryset)
    rows.sort(key=lambda entry: (entry.recorded_at, entry.ledger_name, entry.seq))
    page = rows[:page_size]
    more = len(rows) > page_size
    token = Cursor(page[-1].recorded_at, page[-1].ledger_name, page[-1].seq).token() if more else None
    return page, token
