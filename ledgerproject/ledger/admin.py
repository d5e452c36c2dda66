"""Admin bases: ledgers are read-only in the admin, and big lists never count the whole table."""

import functools
import operator

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path, lookup_spawns_duplicates
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.text import smart_split, unescape_string_literal

from ledgerproject.ledger import rollups
from ledgerproject.ledger.models import AllTenantsGrant, ApiToken, ChainCheck, TenantBinding, newest_seq

# Words (search fields without "=") are looked for in this many of a ledger's newest entries: a word can only be
# found by reading each entry's text, and at 10M entries reading them all takes seconds. Ids ("=" fields) are
# matched exactly, through their indexes, over the whole ledger.
TEXT_SEARCH_WINDOW = 10_000


class NoCountPaginator(Paginator):
    """Counting a million-row ledger on every admin page is the slow part; estimate instead."""

    @cached_property
    def count(self):
        # One row past the pages we could show is enough to know whether there is a next page.
        # In no order: the read stops at that many rows, where the list's order would have a principal of several
        # tenants read every entry of theirs to sort them.
        limit = self.per_page * 50
        return len(self.object_list.order_by()[: limit + 1].values_list("pk", flat=True))


def choices_filter(field, choices, title=None):
    """A list filter on `field` whose choices are the known values (a schema's kinds), not the column's distinct
    values, which Django's default filter reads from every entry."""
    return type(
        f"{field.title().replace('_', '')}Filter",
        (admin.SimpleListFilter,),
        {
            "title": title or field.replace("_", " "),
            "parameter_name": field,
            "lookups": lambda self, request, model_admin: [(value, value) for value in choices],
            "queryset": lambda self, request, queryset: (
                queryset.filter(**{field: self.value()}) if self.value() else queryset
            ),
        },
    )


class TenantListFilter(admin.SimpleListFilter):
    """Filter by tenant; its choices are the tenants of the entries this user may see (never
    another tenant's name). Added to every ledger's changelist that has a tenant column."""

    title = "tenant"
    parameter_name = "tenant_id"

    def lookups(self, request, model_admin):
        # From the rollups kept on append (entries per tenant and day), not from the ledger's rows: the tenants
        # of a 10M-entry ledger would be a scan of every entry.
        found = rollups.rows(request.user, [model_admin.model.ledger_name], rollups.ENTRIES).exclude(
            tenant=rollups.NO_TENANT
        )
        tenants = found.order_by("tenant").values_list("tenant", flat=True).distinct()[:200]
        return [(tenant, tenant) for tenant in tenants]

    def queryset(self, request, queryset):
        return queryset.of_tenant(self.value()) if self.value() else queryset


def search_help(model, search_fields):
    """What the search box finds, under it: "Exact run id or spec digest, or words of the agent name (in the
    newest 10,000 entries)."."""

    def label(path):
        return str(get_fields_from_path(model, path)[-1].verbose_name)

    ids = " or ".join(label(field.removeprefix("=")) for field in search_fields if field.startswith("="))
    words = " or ".join(label(field) for field in search_fields if not field.startswith("="))
    window = f"in the newest {TEXT_SEARCH_WINDOW:,} entries"
    if ids and words:
        return f"Exact {ids}, or words of the {words} ({window})."
    return f"Exact {ids}." if ids else f"Words of the {words} ({window})."


@functools.cache  # a model's indexes are fixed once it is defined; every list request asks
def index_orders(model):
    """{field name: the rest of the order an index reads `model`'s entries in after it}, for the fields by which the
    list can be sorted whatever its size. The rest is ((field, same direction as the column), …), ending with seq:
    - the primary key, a unique column, one that leads a unique-per-tenant constraint (few entries share it), and an
      indexed time: nothing after it but seq, in its direction;
    - a column whose index ends with seq: the index's other fields and seq, each in its direction relative to the
      column (a (name, -seq) index reads a name's entries newest first).
    A column indexed alone with few values (a status) is not one (the list would sort every entry of its first
    value), nor a partial index's (it does not hold every row), nor a relation (it sorts by the related row)."""
    model = model._meta.concrete_model  # a proxy (an admin queue) reads its ledger's table and indexes
    fields = model._meta.concrete_fields
    orders = {field.name: () for field in fields if field.primary_key or field.unique}
    orders |= {field.name: () for field in fields if field.db_index and isinstance(field, models.DateTimeField)}
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.condition is None:
            parts = [*constraint.fields, *constraint.expressions]
            # tenant_unique(field): the field, then the tenant key.
            if len(parts) == 2 and isinstance(parts[0], F) and isinstance(parts[1], Coalesce):
                orders.setdefault(parts[0].name, ())
    for index in model._meta.indexes:
        names = list(index.fields)
        if index.condition is None and len(names) > 1 and names[-1].removeprefix("-") == "seq":
            lead, rest = names[0], names[1:]
            orders.setdefault(
                lead.removeprefix("-"),
                tuple((name.removeprefix("-"), name.startswith("-") == lead.startswith("-")) for name in rest),
            )
    return {name: rest for name, rest in orders.items() if not model._meta.get_field(name).is_relation}


def index_ordered_fields(model):
    """The fields by which the list can be sorted whatever its size (index_orders)."""
    return set(index_orders(model))


class IndexedChangeList(ChangeList):
    """A changelist that sorts only by the columns its admin lets sort (get_sortable_by), one at a time, in the order
    an index reads: Django hides the other columns' sort links but still sorts by any `?o=` a URL or an old bookmark
    carries, keeps the columns sorted before when another header is clicked, and follows a column with the admin's
    own order (an ascending column then -seq sorts every entry of each of its values)."""

    def get_ordering_field(self, field_name):
        if self.sortable_by is not None and field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)

    def get_ordering(self, request, queryset):
        # The first column asked (`?o=2.-5`) that may sort; none, the admin's own order, as with no `?o=` at all.
        column = None
        if ORDER_VAR in self.params:
            kept = [part for part in str(self.params[ORDER_VAR]).split(".") if self._may_sort(part)][:1]
            if kept:
                self.params[ORDER_VAR] = kept[0]
                column = self.list_display[int(kept[0].rpartition("-")[2])]
            else:
                del self.params[ORDER_VAR]
        ordering = super().get_ordering(request, queryset)
        if column is None:
            return ordering
        first = ordering[0]
        descending = first.startswith("-") if isinstance(first, str) else getattr(first, "descending", False)
        field = self.get_ordering_field(column)
        rest = index_orders(self.model).get(field, ()) if isinstance(field, str) else ()

        def directed(name, same):
            return f"-{name}" if descending == same else name

        if not rest:  # the primary key, a unique column or a time: seq, in the column's direction, breaks ties
            rest = (("pk", True),)
        return [first, *(directed(name, same) for name, same in rest)]

    def _may_sort(self, part):
        try:
            name = self.list_display[int(part.rpartition("-")[2])]
        except (IndexError, ValueError):
            return False
        return self.sortable_by is None or name in self.sortable_by


class ReadOnlyLedgerAdmin(admin.ModelAdmin):
    """Browse and search a ledger; no add, change or delete, and no full-table counts."""

    paginator = NoCountPaginator
    show_full_result_count = False
    list_per_page = 50
    ledger_readonly = ("seq", "recorded_at", "recorded_by_name", "prev_entry_hash", "entry_hash")
    actions = None

    def get_queryset(self, request):
        # The kernel's one tenancy rule: a tenant-bound staff user lists, opens and filters by
        # only its tenants' entries (the change page and the filters' choices read this too).
        return super().get_queryset(request).visible_to(request.user)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if self.model.tenant_field and TenantListFilter not in filters:
            filters.append(TenantListFilter)
        return filters

    def get_readonly_fields(self, request, obj=None):
        fields = [f.name for f in self.model._meta.concrete_fields if f.name not in ("canonical", "recorded_by")]
        return list(dict.fromkeys([*super().get_readonly_fields(request, obj), *fields, "links"]))

    def get_list_display(self, request):
        return [*super().get_list_display(request), "page_link"]

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        if self.search_help_text is None and self.search_fields:
            self.search_help_text = search_help(model, self.search_fields)

    def get_changelist(self, request, **kwargs):
        return IndexedChangeList

    def get_sortable_by(self, request):
        """The columns an index reads in order (unless the admin says otherwise): sorting by any other would sort
        every entry the list holds."""
        if self.sortable_by is not None:
            return self.sortable_by
        sortable = index_ordered_fields(self.model)
        return [name for name in self.get_list_display(request) if self._ordering_field(name) in sortable]

    def _ordering_field(self, name):
        """The model field a list column sorts by: the field itself, or a display's `ordering`."""
        attribute = getattr(self, name, None) or getattr(self.model, name, None)
        return getattr(attribute, "admin_order_field", name) if callable(attribute) else name

    def get_search_results(self, request, queryset, search_term):
        """Ids ("=field") match the whole term exactly, through their indexes, over the whole ledger; when no entry
        holds it as an id, each word of the term must be in one of the text fields of an entry among the newest
        TEXT_SEARCH_WINDOW."""
        fields = self.get_search_fields(request)
        term = search_term.strip()
        if not term or not fields:
            return queryset, False
        ids = [field.removeprefix("=") for field in fields if field.startswith("=")]
        texts = [field for field in fields if not field.startswith("=")]
        duplicates = any(lookup_spawns_duplicates(self.opts, field) for field in [*ids, *texts])
        by_id = Q(pk__in=[])  # matches nothing: each id field adds what it finds
        for field in ids:
            try:  # the term as the field holds it (a UUID of any case); a term it cannot hold matches nothing
                value = get_fields_from_path(self.model, field)[-1].to_python(term)
            except ValidationError:
                continue
            by_id |= Q(**{field: value})
        # The entries of an id, when some hold it; otherwise the words. Each is one index-served read: an OR of
        # both would let the planner walk the list's order through every entry, filtering each.
        found = queryset.filter(by_id)
        if not texts or found.exists():
            return found, duplicates
        words = [unescape_string_literal(w) if w[0] in "\"'" and w[-1] == w[0] else w for w in smart_split(term)]
        each_word = [functools.reduce(operator.or_, (Q(**{f"{f}__icontains": w}) for f in texts)) for w in words]
        newest = newest_seq(self.model._base_manager.using(queryset.db))
        return queryset.filter(*each_word, seq__gt=newest - TEXT_SEARCH_WINDOW), duplicates

    @admin.display(description="page")
    def page_link(self, obj):
        url = obj.get_absolute_url()
        return format_html('<a href="{}" data-testid="admin-page-link">open</a>', url) if url else "—"

    @admin.display(description="links")
    def links(self, obj):
        """The entry's page, its integrity page, each declared id as a link, and the trails."""
        from ledgerproject.ledger.search import id_url
        from ledgerproject.ledger.templatetags.ledger_links import trail_link

        parts = []
        if page := obj.get_absolute_url():
            parts.append(("page", page, str(obj)))
        parts.append(("integrity", obj.get_entry_url(), f"{obj.ledger_name}#{obj.seq}"))
        for declared in obj.search_fields:
            value = getattr(obj, declared.field, None)
            if value not in (None, "") and (url := id_url(declared.label, value)):
                parts.append((declared.label, url, str(value)))
        values = {str(getattr(obj, name)) for name in obj.trail_fields if "__" not in name and getattr(obj, name)}
        trails = [trail_link(value, f"trail of {value}") for value in sorted(values)]
        listed = format_html_join(" · ", '{}: <a href="{}">{}</a>', parts)
        return format_html("{}<br>{}", listed, format_html_join(" · ", "{}", ((t,) for t in trails)))

    def get_exclude(self, request, obj=None):
        return ["canonical", "recorded_by"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChainCheck)
class ChainCheckAdmin(admin.ModelAdmin):
    list_display = ("ledger", "checked_at", "ok", "checked", "first_bad_seq", "checked_by")
    list_filter = ("ledger", "ok")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the history of verifications is evidence too


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("key_prefix", "user", "name", "created_at")
    readonly_fields = ("user", "key_prefix", "key_hash", "created_at")
    search_fields = ("user__username", "name", "key_prefix")

    def has_add_permission(self, request):
        return False  # tokens are issued by `manage.py issue_token`, which shows the key once


@admin.register(TenantBinding)
class TenantBindingAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant_id")
    search_fields = ("user__username", "tenant_id")


@admin.register(AllTenantsGrant)
class AllTenantsGrantAdmin(admin.ModelAdmin):
    list_display = ("user", "granted_at", "note")
    search_fields = ("user__username",)


class TenantBindingInline(admin.TabularInline):
    model = TenantBinding
    extra = 0


class AllTenantsGrantInline(admin.StackedInline):
    model = AllTenantsGrant
    extra = 0
    max_num = 1
    verbose_name_plural = "all-tenants grant (without it and without bindings the user sees nothing)"


def _show_tenancy_on_users():
    """The user's change page shows its tenants and whether it holds the all-tenants grant."""
    user_model = get_user_model()
    current = admin.site._registry.get(user_model)
    base = type(current) if current is not None else UserAdmin
    if current is not None:
        admin.site.unregister(user_model)
    inlines = [*getattr(base, "inlines", ()), TenantBindingInline, AllTenantsGrantInline]
    admin.site.register(user_model, type("LedgerUserAdmin", (base,), {"inlines": inlines}))


_show_tenancy_on_users()
