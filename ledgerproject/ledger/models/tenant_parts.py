"""A page read by a principal bound to several tenants, its candidates found one tenant at a time.

A principal bound to one tenant reads `tenant_id = t`, which each list's tenant index serves in the list's order, so a
page stops after its rows. Bound to several, it reads `tenant_id IN (a, b, …)`: PostgreSQL returns those entries in no
order, so every entry of those tenants was read and sorted for each page. Here a page of such a principal is read
from candidates: each tenant's first rows in the page's order (a page of that tenant's index, the keys only), then the
page from those candidates alone, ordered and cut as the one read would have been (a row past its tenant's first ones
cannot be on the page). The answer is the one read's, row for row, whatever the order (text in the
database's collation, a joined or computed value): the database still orders it, only among fewer rows.

Only a read that is a page is split: sliced and ordered, not grouped, distinct or combined. Anything else (an export
reading everything, a count, a grouping) is one read, as before.
"""

from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, Lookup

# A principal bound to more tenants than this reads its pages as one IN (…) read: a round trip per tenant would cost
# more than the sort it saves on small ledgers.
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
    """Whether `queryset`'s read is a page to read through its tenants' candidates: sliced and ordered."""
    query = queryset.query
    return not (
        query.high_mark is None
        or query.high_mark * len(tenants) > MAX_CANDIDATES
        or not (query.order_by or (query.default_ordering and queryset.model._meta.ordering))
        or query.is_empty()
        or query.combinator
        or query.distinct
        or query.group_by is not None
        or query.select_for_update
    )


def page_rows(queryset, tenant_path, tenants):
    """The rows of `queryset` (a page), read from each tenant's first candidates: a read of keys per tenant, then the
    page among those keys (two statements and not one `IN (SELECT … UNION ALL …)`: given the keys as a list, the
    planner looks each one up; given a subquery, it may read every entry of the tenants to join them)."""
    high = queryset.query.high_mark
    candidates = []
    for tenant in tenants:
        part = _unsplit(queryset)
        part.query.clear_limits()
        candidates += part.filter(**{tenant_path: tenant}).values_list("pk", flat=True)[:high]
    if not candidates:
        return []
    page = _unsplit(queryset)
    low = page.query.low_mark
    page.query.clear_limits()
    page = page.filter(KeyAmong(F("pk"), candidates))
    page.query.set_limits(low, high)
    page._prefetch_related_lookups = ()  # made by the caller, once, on the page
    return list(page)


def _unsplit(queryset):
    clone = queryset._chain()
    clone._tenant_parts = ()
    return clone


class KeyAmong(Lookup):
    """A key among a list of keys: one array parameter on PostgreSQL (`= ANY(%s::bigint[])`), where `IN (…)` is a
    parameter per key for the driver to write and the server to parse (thousands for the log viewer's pickers);
    `IN (…)` elsewhere."""

    lookup_name = "ledger_key_among"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = compiler.compile(self.lhs)
        keys = list(self.rhs)
        if not keys:
            return "1 = 0", params
        return f"{lhs} IN ({', '.join(['%s'] * len(keys))})", (*params, *keys)

    def as_postgresql(self, compiler, connection):
        lhs, params = compiler.compile(self.lhs)
        return f"{lhs} = ANY(%s::{self.lhs.output_field.db_type(connection)}[])", (*params, list(self.rhs))
