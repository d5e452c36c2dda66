"""LogRecordAdmin: the node-log ledger in the admin, read-only."""

from django.contrib import admin

from ledgerproject.ledger.admin import ReadOnlyLedgerAdmin
from logchain.models import LogRecord


@admin.register(LogRecord)
class LogRecordAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "node_id", "node_seq", "daemon_id", "level", "ts_ms", "short_message", "chain_pending")
    list_filter = ("level", "chain_pending")
    search_fields = ("=node_id", "message")
    ordering = ("-seq",)

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message if len(obj.message) <= 120 else obj.message[:119] + "…"
