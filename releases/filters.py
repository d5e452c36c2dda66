"""Filters of the releases list (each name's current release), on the current-release rows' own columns."""

import django_filters

from ledgerproject.ledger.filters import LedgerFilterSet
from releases.models import Release

# The list joins each entry to its current-release row (Release.objects.currents()): filtering that row's
# copies of the columns lets its (column, name) indexes serve a page instead of a probe per name.
CURRENT = "current_row__"


class ReleaseFilterSet(LedgerFilterSet):
    q = django_filters.CharFilter(field_name=f"{CURRENT}name", lookup_expr="icontains", label="Name contains")
    name = django_filters.CharFilter(field_name=f"{CURRENT}name")
    spec_digest = django_filters.CharFilter(field_name=f"{CURRENT}spec_digest", method="filter_spec_digest")
    promoted_by = django_filters.CharFilter(field_name=f"{CURRENT}promoted_by")
    action = django_filters.ChoiceFilter(field_name=f"{CURRENT}action", choices=Release.Action.choices)

    class Meta:
        model = Release
        fields = ["q", "name", "spec_digest", "promoted_by", "action"]

    def filter_spec_digest(self, queryset, name, value):
        # Any case matches: digests are stored lowercase (validate_append), so the lowered value is an exact,
        # indexed match where iexact (UPPER() = UPPER()) would read every current release.
        return queryset.filter(**{name: value.lower()})
