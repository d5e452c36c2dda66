"""Read-only admin for the release registry."""

from django.contrib import admin

from ledgerproject.ledger.admin import ReadOnlyLedgerAdmin
from releases.models import Release


@admin.register(Release)
class ReleaseAdmin(ReadOnlyLedgerAdmin):
    list_display = (
        "seq",
        "name",
        "version_label",
        "action",
        "short_digest",
        "promoted_by",
        "recorded_by_name",
        "recorded_at",
    )
    list_filter = ("action",)
    search_fields = ("=name", "=spec_digest", "=version_label", "=promoted_by", "name")
    list_select_related = ()

    @admin.display(description="spec digest", ordering="spec_digest")
    def short_digest(self, obj):
        return f"{obj.spec_digest[:12]}…"
