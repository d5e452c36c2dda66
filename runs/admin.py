"""Read-only admin for the six runs ledgers: blobs and their byte changes, runs, events, outcomes, outputs."""

from django.contrib import admin

from ledgerproject.ledger.admin import ReadOnlyLedgerAdmin, choices_filter
from runs.models import Blob, BlobChange, Output, Run, RunEvent, RunOutcome
from runs.schemas import OUTPUT_EVENT_TYPES


@admin.register(Blob)
class BlobAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "digest", "size", "media_type", "recorded_at", "recorded_by_name")
    search_fields = ("=digest",)


@admin.register(BlobChange)
class BlobChangeAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "blob", "change", "reason", "recorded_at", "recorded_by_name")
    search_fields = ("=blob__digest",)
    list_filter = ("change",)
    list_select_related = ("blob",)


@admin.register(Run)
class RunAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "run_id", "agent_name", "spec_digest", "git_sha", "created_at")
    search_fields = ("=run_id", "agent_name", "=spec_digest")
    # Newest first, as the runs page lists them: the order the runs' indexes (and each tenant's) read.
    ordering = ("-created_at", "-seq")


@admin.register(RunEvent)
class RunEventAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "run", "event_seq", "kind", "timestamp", "recorded_at")
    search_fields = ("=run__run_id", "kind")
    list_select_related = ("run",)


@admin.register(RunOutcome)
class RunOutcomeAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "run", "status", "success", "total_events", "duration_ms", "recorded_at")
    list_filter = ("status", "success")
    search_fields = ("=run__run_id",)
    list_select_related = ("run",)


@admin.register(Output)
class OutputAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "output_id", "task_id", "attempt", "producer_agent", "event_type", "recorded_at")
    list_filter = (choices_filter("event_type", OUTPUT_EVENT_TYPES),)
    search_fields = ("=output_id", "task_id", "producer_agent")
