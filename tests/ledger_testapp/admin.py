"""The test ledger in the admin, read-only, as every ledger is."""

from django.contrib import admin

from ledgerproject.ledger.admin import ReadOnlyLedgerAdmin
from tests.ledger_testapp.models import Note


@admin.register(Note)
class NoteAdmin(ReadOnlyLedgerAdmin):
    list_display = ("seq", "key", "topic", "tenant_id", "recorded_at")
    search_fields = ("=key", "topic")
    ordering = ("-seq",)
