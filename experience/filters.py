"""FilterSets for events (the seed's EventQuery) and artifacts (the seed's ArtifactQuery)."""

import django_filters
from django.core.exceptions import ValidationError

from experience import schemas
from experience.models import ExperienceEvent
from ledgerproject.ledger.filters import CapFilter, LedgerFilterSet
from ledgerproject.ledger.validators import MAX_JSON_INT

KIND_CHOICES = [(kind, kind) for kind in schemas.KINDS]
STATE_CHOICES = [(state, state) for state in schemas.STATES]


def parse_limit(value):
    """The seed's `limit`: a positive integer capping the total; None when not given."""
    if value in (None, ""):
        return None
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise ValidationError({"limit": [f"expected a positive integer, got {value!r}"]}) from None
    if limit < 1:
        raise ValidationError({"limit": [f"must be at least 1 (got {limit})"]})
    if limit > MAX_JSON_INT:
        raise ValidationError({"limit": [f"must be at most {MAX_JSON_INT} (got {limit})"]})
    return limit


def validate_id(value):
    """Ids follow the upstream rule; anything else can never match (and NUL would upset PostgreSQL)."""
    problem = schemas.id_problem(value)
    if problem:
        raise ValidationError(f"{problem} (got {value!r})")


def IdFilter(**kwargs):  # noqa: N802 - reads like the filter classes beside it
    return django_filters.CharFilter(validators=[validate_id], **kwargs)


class ExperienceEventFilterSet(LedgerFilterSet):
    tenant_id = IdFilter()
    # distinct=False: a column of the event's own row cannot repeat a row, and django-filter's default
    # SELECT DISTINCT keeps PostgreSQL from walking the (kind, seq) index to the page's LIMIT (it read
    # every event of the kind at scale: 59 ms at 1M events).
    kind = django_filters.MultipleChoiceFilter(
        choices=KIND_CHOICES, distinct=False, help_text="repeatable: ?kind=A&kind=B"
    )
    since = django_filters.IsoDateTimeFilter(
        field_name="occurred_at_utc", lookup_expr="gte", help_text="inclusive, on occurred_at"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="occurred_at_utc", lookup_expr="lte", help_text="inclusive, on occurred_at"
    )
    correlation_id = IdFilter()
    chain_id = IdFilter()
    artifact_id = IdFilter()
    trace_link_id = IdFilter()
    proposal_id = IdFilter()
    limit = CapFilter(help_text="caps the total number of events")

    class Meta:
        model = ExperienceEvent
        fields = []


def validate_artifact_kind(value):
    if value in schemas.ARTIFACT_KIND_UNITS or value == "Other":
        return
    if value.startswith("Other(") and value.endswith(")") and len(value) > 7:
        return
    raise ValidationError(
        f"unknown artifact kind {value!r}; expected {', '.join(schemas.ARTIFACT_KIND_UNITS)}, Other or Other(name)"
    )


class ArtifactFilterSet(LedgerFilterSet):
    tenant_id = IdFilter()
    artifact_id = IdFilter()
    kind = django_filters.CharFilter(
        method="filter_kind",
        validators=[validate_artifact_kind],
        help_text="Adapter, Pack, Policy, TruthFile, EvalSuite, Other or Other(name)",
    )
    state = django_filters.ChoiceFilter(choices=STATE_CHOICES, method="filter_state")
    limit = CapFilter(help_text="caps the number of artifacts")

    class Meta:
        model = ExperienceEvent
        fields = []

    def filter_kind(self, queryset, name, value):
        return queryset.of_artifact_kind(value)

    def filter_state(self, queryset, name, value):
        return queryset.in_state(value)
