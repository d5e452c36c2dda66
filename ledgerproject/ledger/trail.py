"""The trail of an id: every entry in every ledger that refers to it, in time order, paged by a keyset.

Each ledger model declares `trail_fields`, the indexed lookups whose value is an id the entry
refers to (a correlation, a run, a blueprint, …). An entry belongs to the trail of X when one of
them equals X. Reads go through `visible_to(user)`; a page is at most PAGE_SIZE rows, read as the
first PAGE_SIZE + 1 of each ledger past the cursor, then merged (the kernel's KeysetPager).
"""

from functools import reduce
from operator import or_

from django.core.exceptions import ValidationError
from django.db.models import Q

from ledgerproject.ledger.pagination import KeysetPager
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.search import MAX_QUERY, MIN_QUERY, SearchError

PAGE_SIZE = 100


# The order rows of several ledgers share; the ledger's name is a class attribute, decided per ledger.
PAGER = KeysetPager(("recorded_at", "ledger_name", "seq"), PAGE_SIZE)


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


def trail_queries(user, value):
    """(model, queryset) per ledger the principal can view whose trail fields can hold the value:
    the queries trail() pages through (bench/search_explain.py EXPLAINs these very querysets)."""
    for model in ledger_models():
        opts = model._meta
        if not user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
            continue
        condition = _refers_to(model, value)
        if condition is None:
            continue
        yield model, model.objects.visible_to(user).filter(condition)


def trail(request, text):
    """The page of entries referring to the id that the request's cursor names (a KeysetPage)."""
    value = (text or "").strip()
    if len(value) < MIN_QUERY:
        raise SearchError(
            f"Name an id of at least {MIN_QUERY} characters: a correlation id, run id, blueprint id, issue id, …"
        )
    if len(value) > MAX_QUERY:
        raise SearchError(f"The id is too long: ids are at most {MAX_QUERY} characters.")
    return PAGER.paginate_merged(request, [queryset for _model, queryset in trail_queries(request.user, value)])
