"""Filters of the releases list (each name's current release)."""

import django_filters

from releases.models import Release


class ReleaseFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    spec_digest = django_filters.CharFilter(field_name="spec_digest", lookup_expr="iexact")
    promoted_by = django_filters.CharFilter(field_name="promoted_by")
    action = django_filters.ChoiceFilter(choices=Release.Action.choices)

    class Meta:
        model = Release
        fields = ["q", "name", "spec_digest", "promoted_by", "action"]
