"""Read-only admin for experience events, filterable by kind and tenant."""

from django.contrib import admin

from experience import schemas
from experience.models import ExperienceEvent
from ledgerproject.ledger.admin import ReadOnlyLedgerAdmin


class KindFilter(admin.SimpleListFilter):
    """The 12 kinds from the schema, so the filter never scans the table for distinct values."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind, kind) for kind in schemas.KINDS]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(ExperienceEvent)
class ExperienceEventAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "event_id", "kind", "tenant_id", "correlation_id", "chain_id", "occurred_at", "recorded_at")
    # The kernel adds its tenant filter (choices: the tenants this user may see).
    list_filter = (KindFilter,)
    search_fields = ("=event_id", "=correlation_id", "=chain_id", "=artifact_id", "=trace_link_id", "=proposal_id")
    ordering = ("-seq",)
