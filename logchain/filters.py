"""LogRecordFilterSet (the API's) and LogViewerFilterSet (the viewer page's: the same filters plus its form's names)."""

from datetime import UTC, datetime, timedelta

import django_filters
from django import forms

from ledgerproject.ledger.filters import LedgerFilterSet
from ledgerproject.ledger.validators import MAX_JSON_INT
from logchain.levels import LEVELS
from logchain.models import LogRecord

LEVEL_CHOICES = [(name, name) for name in LEVELS]


class LogRecordFilterSet(LedgerFilterSet):
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


WINDOWS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
PAGE_INSTANT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def epoch_ms(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the page speaks UTC, like the rest of the project
    return int(moment.timestamp() * 1000)


class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class LogViewerFilterSet(LogRecordFilterSet):
    """The viewer's form: `node`/`daemon` (its links' names), a window or a UTC from/to, beside the API's filters."""

    node = IdFilter(field_name="node_id", min_value=0, max_value=MAX_JSON_INT)
    daemon = IdFilter(field_name="daemon_id", min_value=0, max_value=MAX_JSON_INT)
    window = django_filters.ChoiceFilter(choices=[(key, f"last {key}") for key in WINDOWS], method="filter_window")
    since = django_filters.DateTimeFilter(method="filter_since", input_formats=PAGE_INSTANT_FORMATS)
    until = django_filters.DateTimeFilter(method="filter_until", input_formats=PAGE_INSTANT_FORMATS)

    def filter_window(self, queryset, name, value):
        return queryset.between_ms(epoch_ms(datetime.now(UTC) - WINDOWS[value]), None) if value else queryset

    def filter_since(self, queryset, name, value):
        if self.form.cleaned_data.get("window"):
            return queryset  # a chosen window replaces the start, as the form says
        return queryset.between_ms(epoch_ms(value), None)

    def filter_until(self, queryset, name, value):
        return queryset.between_ms(None, epoch_ms(value))
