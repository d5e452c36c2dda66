"""Admin bases: ledgers are read-only in the admin, and big lists never count the whole table."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from ledgerproject.ledger.models import AllTenantsGrant, ApiToken, ChainCheck, TenantBinding


class NoCountPaginator(Paginator):
    """Counting a million-row ledger on every admin page is the slow part; estimate instead."""

    @cached_property
    def count(self):
        # One row past the pages we could show is enough to know whether there is a next page.
        limit = self.per_page * 50
        return len(self.object_list[: limit + 1].values_list("pk", flat=True))


class TenantListFilter(admin.SimpleListFilter):
    """Filter by tenant; its choices are the tenants of the entries this user may see (never
    another tenant's name). Added to every ledger's changelist that has a tenant column."""

    title = "tenant"
    parameter_name = "tenant_id"

    def lookups(self, request, model_admin):
        field = model_admin.model.tenant_field
        tenants = model_admin.get_queryset(request).exclude(**{f"{field}__isnull": True}).order_by()
        return [(t, t) for t in sorted(set(tenants.values_list(field, flat=True).distinct()[:200]))]

    def queryset(self, request, queryset):
        return queryset.of_tenant(self.value()) if self.value() else queryset


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
