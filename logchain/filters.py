"""LogRecordFilterSet: node, daemon, level, min_level, claimed-time window and message text."""

import django_filters

from logchain.levels import LEVELS
from logchain.models import LogRecord

LEVEL_CHOICES = [(name, name) for name in LEVELS]


class LogRecordFilterSet(django_filters.FilterSet):
    node_id = django_filters.NumberFilter(field_name="node_id")
    daemon_id = django_filters.NumberFilter(field_name="daemon_id")
    level = django_filters.MultipleChoiceFilter(choices=LEVEL_CHOICES, help_text="Exact level; repeat for several.")
    min_level = django_filters.ChoiceFilter(
        choices=LEVEL_CHOICES, method="filter_min_level", help_text="Level at or above (Trace<Debug<Info<Warn<Error)."
    )
    since_ms = django_filters.NumberFilter(field_name="ts_ms", lookup_expr="gte", help_text="ts_ms >= this (epoch ms).")
    until_ms = django_filters.NumberFilter(field_name="ts_ms", lookup_expr="lte", help_text="ts_ms <= this (epoch ms).")
    q = django_filters.CharFilter(method="filter_text", help_text="Text in the message (case-insensitive).")
    chain_pending = django_filters.BooleanFilter(field_name="chain_pending")

    class Meta:
        model = LogRecord
        fields = []

    def filter_min_level(self, queryset, name, value):
        return queryset.at_least(value) if value else queryset

    def filter_text(self, queryset, name, value):
        return queryset.search(value)
