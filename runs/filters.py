"""FilterSets of the run list and the output list (spec_digest, agent_name, status; task_id, attempt, producer)."""

import django_filters
from django.core.exceptions import ValidationError

from ledgerproject.ledger.filters import LedgerFilterSet
from ledgerproject.ledger.validators import normalize_sha256
from runs.models import Output, Run, RunStatus


class RunFilterSet(LedgerFilterSet):
    spec_digest = django_filters.CharFilter(method="filter_spec_digest")
    agent_name = django_filters.CharFilter(field_name="agent_name")
    status = django_filters.ChoiceFilter(
        choices=[(s.value, s.value) for s in RunStatus], method="filter_status", label="status"
    )

    class Meta:
        model = Run
        fields = ["spec_digest", "agent_name", "status"]

    def filter_spec_digest(self, queryset, name, value):
        try:
            return queryset.for_spec(normalize_sha256(value))
        except ValidationError:
            return queryset.none()

    def filter_status(self, queryset, name, value):
        return queryset.with_status_name(value)


class OutputFilterSet(LedgerFilterSet):
    task_id = django_filters.CharFilter(field_name="task_id")
    attempt = django_filters.NumberFilter(field_name="attempt")
    producer_agent = django_filters.CharFilter(field_name="producer_agent")
    event_type = django_filters.CharFilter(field_name="event_type")

    class Meta:
        model = Output
        fields = ["task_id", "attempt", "producer_agent", "event_type"]
