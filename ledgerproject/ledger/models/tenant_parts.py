"""A page read by a principal bound to several tenants, its candidates found one tenant at a time.

A principal bound to one tenant reads `tenant_id = t`, which each list's tenant index serves in the list's order, so a
page stops after its rows. Bound to several, it reads `tenant_id IN (a, b, …)`: PostgreSQL returns those entries in no
order, so every entry of those tenants was read and sorted for each page. Here a page of such a principal is read
from candidates: each tenant's first keys in the page's order (a page of that tenant's index), and the page is the
entries among those, ordered and cut as the one read would have been (a row past its tenant's first ones cannot be on
the page), in one statement. The answer is the one read's, row for row: the database still orders it, text in its
collation and annotations as they are, only among fewer rows.

Only a read that is a page is split: sliced, in an order that ends with the key, not grouped, distinct, combined or
windowed. Anything else (an export reading everything, a count, a grouping) is one read, as before.
"""

from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, Q

from ledgerproject.ledger.models.lookups import InEachOf

# A principal bound to more tenants than this reads its pages as one IN (…) read: a subquery per tenant would cost
# more to plan and run than the sort it saves on small ledgers.
MAX_TENANT_PARTS = 8

# A page whose candidates would be more keys than this (a deep offset of the admin, a huge slice) is one read.
MAX_CANDIDATES = 20_000


def splittable_tenant_path(model, path):
    """Whether the tenant path `path` ("tenant_id", "run__tenant_id") names one value per entry: the entry's own
    column, or a column reached through foreign keys (each entry has one parent). Each tenant's part then holds
    other entries, and together they hold the read's."""
    *relations, column = path.split("__")
    try:
        for name in relations:
            field = model._meta.get_field(name)
            if not (field.concrete and (field.many_to_one or field.one_to_one)):
                return False
            model = field.related_model
        return model._meta.get_field(column).concrete
    except FieldDoesNotExist:
        return False


def is_split_page(queryset, tenants):
    """Whether `queryset`'s read is a page to read through its tenants' candidates: sliced, in an order that ends with
    the key and named by fields (total: no tie for the split read to break otherwise than the one read; no random or
    computed term), and not grouped, distinct, combined, locked or windowed (a window over the candidates would see
    fewer rows)."""
    query = queryset.query
    order = query.order_by or (queryset.model._meta.ordering if query.default_ordering else ())
    key = queryset.model._meta.pk
    return not (
        query.high_mark is None
        or query.high_mark * len(tenants) > MAX_CANDIDATES
        or not order
        or not all(isinstance(term, str) and term != "?" for term in order)
        or query.extra_order_by
        or query.where.contains_over_clause
        or order[-1] not in ("pk", "-pk", key.name, f"-{key.name}", key.attname, f"-{key.attname}")
        or query.is_empty()
        or query.combinator
        or query.distinct
        or query.group_by is not None
        or query.select_for_update
        or any(getattr(annotation, "contains_over_clause", False) for annotation in query.annotations.values())
    )


def page_of_candidates(queryset, tenant_path, tenants):
    """`queryset` (a page) narrowed to its tenants' candidates, in one statement (one snapshot: a read of keys and a
    read of the page in two statements could see an entry appended between them and miss an earlier one): its key is
    among each tenant's first keys in the page's order, `seq = ANY(ARRAY(SELECT … LIMIT n)) OR …`, which PostgreSQL
    reads as each subquery once, then a probe of the key's index per key."""
    high = queryset.query.high_mark
    among = Q()
    for tenant in tenants:
        part = _unsplit(queryset)
        part.query.clear_limits()
        among |= Q(InEachOf(F("pk"), part.filter(**{tenant_path: tenant}).values("pk")[:high]))
    page = _unsplit(queryset)
    low = page.query.low_mark
    page.query.clear_limits()
    page = page.filter(among)
    page.query.set_limits(low, high)
    page._prefetch_related_lookups = ()  # made by the caller, once, on the page
    return page


def _unsplit(queryset):
    clone = queryset._chain()
    clone._tenant_parts = ()
    return clone
