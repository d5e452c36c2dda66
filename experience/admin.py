"""Read-only admin for experience events, filterable by kind and tenant."""

from django.contrib import admin

from experience import schemas
from experience.models import ExperienceEvent
from ledgerproject.ledger.admin import ReadOnlyLedgerAdmin, choices_filter


@admin.register(ExperienceEvent)
class ExperienceEventAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "event_id", "kind", "tenant_id", "correlation_id", "chain_id", "occurred_at", "recorded_at")
    # The kernel adds its tenant filter (choices: the tenants this user may see).
    # The 12 kinds from the schema, so the filter never scans the table for distinct values.
    list_filter = (choices_filter("kind", schemas.KINDS),)
    search_fields = ("=event_id", "=correlation_id", "=chain_id", "=artifact_id", "=trace_link_id", "=proposal_id")
    ordering = ("-seq",)
