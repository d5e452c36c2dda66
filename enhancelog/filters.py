"""EnhanceEntryFilterSet: the list filters of the API and of the entry list page."""

import django_filters
from django import forms

from enhancelog.models import EMPTY, EnhanceEntry, unreviewed_floor
from ledgerproject.ledger.filters import LedgerFilterSet


class EnhanceEntryFilterSet(LedgerFilterSet):
    blueprint_id = django_filters.CharFilter(method="filter_blueprint", help_text="exact blueprint id")
    status = django_filters.ChoiceFilter(choices=EnhanceEntry.STATUS_CHOICES)
    axis = django_filters.CharFilter(method="filter_axis", help_text="has a verdict (pass or deny) on this axis")
    denied_axis = django_filters.CharFilter(method="filter_denied_axis", help_text="this axis denied")
    since_ms = django_filters.NumberFilter(field_name="ts_ms", lookup_expr="gte", help_text="ts_ms ≥ since_ms")
    until_ms = django_filters.NumberFilter(
        field_name="ts_ms", lookup_expr="lte", help_text="ts_ms ≤ until_ms (inclusive, as on every ledger)"
    )
    reviewed = django_filters.BooleanFilter(
        method="filter_reviewed", widget=forms.NullBooleanSelect, help_text="has at least one review"
    )
    q = django_filters.CharFilter(method="filter_text", help_text="text in intent, rationale or reasons")

    class Meta:
        model = EnhanceEntry
        fields = ["blueprint_id", "status", "axis", "denied_axis", "since_ms", "until_ms", "reviewed", "q"]

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("reviewed") is False and data.get("status") == EnhanceEntry.REJECTED:
            # Same rows, but the scan starts at the oldest unreviewed rejection instead of skipping
            # every reviewed one before it.
            floor = unreviewed_floor(queryset.db)
            queryset = queryset.none() if floor == EMPTY else queryset.at_or_after(floor)
        return queryset

    def filter_blueprint(self, queryset, name, value):
        return queryset.for_blueprint(value) if value else queryset

    def filter_axis(self, queryset, name, value):
        return queryset.with_axis(value) if value else queryset

    def filter_denied_axis(self, queryset, name, value):
        return queryset.denied_on(value) if value else queryset

    def filter_reviewed(self, queryset, name, value):
        return queryset if value is None else queryset.reviewed(value)

    def filter_text(self, queryset, name, value):
        return queryset.search(value.strip()) if value and value.strip() else queryset
